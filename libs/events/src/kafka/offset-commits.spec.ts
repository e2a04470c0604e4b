import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OffsetCommits, type CommitPosition } from './offset-commits.js';

describe('OffsetCommits', () => {
  let commits: CommitPosition[][];
  let failNext: Error | undefined;
  let errors: unknown[];
  let offsets: OffsetCommits;

  beforeEach(() => {
    vi.useFakeTimers();
    commits = [];
    failNext = undefined;
    errors = [];
    offsets = new OffsetCommits({
      intervalMs: 1_000,
      commit: async (positions) => {
        if (failNext !== undefined) {
          const error = failNext;
          failNext = undefined;
          throw error;
        }
        commits.push(positions);
      },
      onError: (error) => errors.push(error),
    });
  });
  afterEach(() => {
    offsets.close();
    vi.useRealTimers();
  });

  it('commits the newest handled position of every partition once per interval, as the next offset to read', async () => {
    offsets.handled('t', 0, '5');
    offsets.handled('t', 0, '6');
    offsets.handled('t', 1, '9007199254740993');
    await vi.advanceTimersByTimeAsync(999);
    expect(commits).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(commits).toEqual([
      [
        { topic: 't', partition: 0, offset: '7' },
        { topic: 't', partition: 1, offset: '9007199254740994' },
      ],
    ]);
    // Nothing handled since: no empty commits.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(commits).toHaveLength(1);
  });

  it('keeps the positions of a failed commit for the next one, unless a newer one arrived', async () => {
    failNext = new Error('REBALANCE_IN_PROGRESS');
    offsets.handled('t', 0, '1');
    offsets.handled('t', 1, '1');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(errors).toHaveLength(1);
    offsets.handled('t', 1, '2');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(commits).toHaveLength(1);
    expect(commits[0]).toEqual(
      expect.arrayContaining([
        { topic: 't', partition: 0, offset: '2' },
        { topic: 't', partition: 1, offset: '3' },
      ]),
    );
    expect(commits[0]).toHaveLength(2);
  });

  it('retries a failed commit on its own, without waiting for another record', async () => {
    failNext = new Error('coordinator moved');
    offsets.handled('t', 0, '1');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(commits).toEqual([[{ topic: 't', partition: 0, offset: '2' }]]);
  });

  it('drops the positions of partitions lost in a rebalance', async () => {
    offsets.handled('t', 0, '1');
    offsets.handled('t', 1, '1');
    offsets.handled('u', 0, '1');
    offsets.assigned({ t: [1] });
    await offsets.flush();
    expect(commits).toEqual([[{ topic: 't', partition: 1, offset: '2' }]]);
  });

  it('flushes at once on demand, and commits nothing once closed', async () => {
    offsets.handled('t', 0, '1');
    await offsets.flush();
    expect(commits).toEqual([[{ topic: 't', partition: 0, offset: '2' }]]);
    offsets.close();
    offsets.handled('t', 0, '2');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(commits).toHaveLength(1);
  });
});
