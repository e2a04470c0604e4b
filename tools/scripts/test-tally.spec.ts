import { describe, expect, it } from 'vitest';
import { TestTally } from './test-tally.js';

describe('TestTally', () => {
  it('sums passed, failed and skipped over several Vitest summaries, colours and all', () => {
    const tally = new TestTally();
    tally.add('      \x1b[2mTests \x1b[22m \x1b[1m\x1b[32m15 passed\x1b[39m\x1b[22m\x1b[90m (15)\x1b[39m');
    tally.add(' Tests  1 failed | 5 passed | 2 skipped (8)');
    expect(tally.summary()).toBe('20 passed, 1 failed, 2 skipped');
  });

  it('ignores lines that are not test summaries', () => {
    const tally = new TestTally();
    tally.add(' Test Files  3 passed (3)');
    tally.add('✓ approves 5 passed orders');
    expect(tally.summary()).toBe('0 passed, 0 failed');
  });
});
