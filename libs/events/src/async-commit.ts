import type pg from 'pg';
import { withTransaction } from '@msr/service-defaults';

/**
 * Runs `work` in a transaction whose COMMIT does not wait for the write-ahead log to reach the disk
 * (`SET LOCAL synchronous_commit = off`): a few milliseconds less per commit, at the price that a
 * database crash may undo the last commits (never partly, never out of order). Only for writes
 * whose loss is harmless: the outbox relay's `published_at` (lost: the message is published
 * again, and the inbox absorbs it), inbox delivery counts, saga leases. Never for a business
 * change or a message whose loss would matter.
 *
 * @throws whatever `work` throws (the transaction is rolled back) or the database error.
 */
export function withAsyncCommit<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, work, { synchronousCommit: false });
}
