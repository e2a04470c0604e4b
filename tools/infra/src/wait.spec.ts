import { describe, expect, it } from 'vitest';
import { pollUntil } from './wait.js';

describe('pollUntil', () => {
  it('resolves as soon as the probe reports the condition', async () => {
    let calls = 0;
    await pollUntil(async () => ++calls === 3, { timeoutMs: 5_000, intervalMs: 1, what: 'the third call' });
    expect(calls).toBe(3);
  });

  it('fails naming what it waited for once the deadline passes', async () => {
    await expect(pollUntil(async () => false, { timeoutMs: 20, intervalMs: 5, what: 'Godot' })).rejects.toThrow('timed out after 20 ms waiting for Godot');
  });

  it('stops at once when the probe throws', async () => {
    let calls = 0;
    const probe = async () => {
      calls += 1;
      throw new Error('process died');
    };
    await expect(pollUntil(probe, { timeoutMs: 5_000, what: 'x' })).rejects.toThrow('process died');
    expect(calls).toBe(1);
  });
});
