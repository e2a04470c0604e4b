import { describe, expect, it } from 'vitest';
import { validateRetryPolicy } from './retry-policy.js';

const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1_000 };

describe('validateRetryPolicy', () => {
  it('rejects zero attempts, negative delays and a cap below the base', () => {
    expect(() => validateRetryPolicy({ ...policy, maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => validateRetryPolicy({ ...policy, maxAttempts: 1.5 })).toThrow(/maxAttempts/);
    expect(() => validateRetryPolicy({ ...policy, baseDelayMs: -1 })).toThrow(/baseDelayMs/);
    expect(() => validateRetryPolicy({ ...policy, maxDelayMs: 50 })).toThrow(/maxDelayMs/);
  });

  it('accepts a sane policy as it is', () => {
    expect(validateRetryPolicy(policy)).toBe(policy);
  });
});
