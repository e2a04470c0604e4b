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

/**
 * {@link withAsyncCommit} for one statement, in a single round trip: `statement` is built by the
 * caller with its values quoted by `client.escapeLiteral` (the simple query protocol, which allows
 * several statements at once, takes no parameters). Returns the statement's result.
 *
 * @throws the database error (the transaction is rolled back).
 */
export async function asyncCommitStatement<R extends pg.QueryResultRow>(pool: pg.Pool, statement: (client: pg.PoolClient) => string): Promise<pg.QueryResult<R>> {
  const client = await pool.connect();
  try {
    const results = (await client.query(`BEGIN; SET LOCAL synchronous_commit = off; ${statement(client)}; COMMIT`)) as unknown as pg.QueryResult<R>[];
    return results[2]!;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
