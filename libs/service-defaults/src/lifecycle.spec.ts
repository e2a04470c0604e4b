import { describe, expect, it } from 'vitest';
import { Lifecycle } from './lifecycle.js';
import { createLogger } from './logger.js';

describe('Lifecycle', () => {
  const logger = createLogger({ service: 'test', level: 'silent' });

  it('runs shutdown steps once, in the order they were added, past a failing one', async () => {
    const ran: string[] = [];
    const lifecycle = new Lifecycle(logger, 1_000)
      .onShutdown('first', () => {
        ran.push('first');
      })
      .onShutdown('failing', () => {
        ran.push('failing');
        throw new Error('nope');
      })
      .onShutdown('last', async () => {
        ran.push('last');
      });
    await Promise.all([lifecycle.stop(), lifecycle.stop()]);
    expect(ran).toEqual(['first', 'failing', 'last']);
  });
});
