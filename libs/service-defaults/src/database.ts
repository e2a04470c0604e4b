import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import type { Logger } from 'pino';

/** A pool, or a client inside a transaction: what repositories accept. */
export type Queryable = pg.Pool | pg.PoolClient;

/**
 * Creates a connection pool to one service's own database (database per service: a service is
 * given only its own URL). Idle-client errors are logged instead of crashing the process.
 *
 * The clients run in pg's pipeline mode: a query goes out at once, even while earlier ones on the
 * same client still wait for their answers, and PostgreSQL answers them in order. Code that awaits
 * each query sees no difference; {@link withTransaction} and {@link sendInTransaction} use it to
 * send statements whose results nobody waits for (BEGIN, writes whose outcome COMMIT checks) in
 * the same round trip as the next one. Pipelining cannot hold a portal open across round trips,
 * so pg refuses cursors and `rows` limits on these clients.
 */
export function createPool(connectionString: string, logger: Logger, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: logger.bindings()['service'] as string | undefined, pipeline: true });
  pool.on('error', (error) => logger.error({ err: error }, 'idle PostgreSQL client failed'));
  pool.on('connect', writeEachTickAtOnce);
  return pool;
}

/**
 * Makes the statements a client is given within one tick of the event loop (BEGIN, a statement,
 * COMMIT, pipelined) leave in one write: the first corks the client's socket and the next tick
 * uncorks it. Otherwise each goes out on its own, and PostgreSQL wakes up for each. pg corks the
 * messages of one statement the same way; this extends it to a tick's statements. The pools of
 * {@link createPool} do it for each of their clients; call it for a client of one's own.
 */
export function writeEachTickAtOnce(client: pg.Client): void {
  // pg keeps its socket as `client.connection.stream`; without one there is nothing to cork.
  const socket = (client as unknown as { connection?: { stream?: Partial<Writable> } }).connection?.stream;
  if (typeof socket?.cork !== 'function' || typeof socket.uncork !== 'function') return;
  const stream = socket as Pick<Writable, 'cork' | 'uncork'>;
  const query = client.query;
  let corked = false;
  client.query = function (this: pg.Client, ...args: Parameters<pg.Client['query']>) {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(() => {
        corked = false;
        stream.uncork();
      });
    }
    return (query as (...args: unknown[]) => unknown).apply(this, args);
  } as pg.Client['query'];
}

/** How {@link withTransaction} begins and commits. */
export interface TransactionOptions {
  /**
   * `false`: COMMIT does not wait for the write-ahead log to reach the disk
   * (`SET LOCAL synchronous_commit = off`), a few ms less per commit; a database crash may then
   * undo the last commits (never partly, never out of order). Only for writes whose loss is
   * harmless. Default `true`.
   */
  synchronousCommit?: boolean;
  /**
   * `true`: a read-only transaction whose queries all see one snapshot of the database
   * (`REPEATABLE READ READ ONLY`), for reads across several tables that must agree with each
   * other, e.g. a saga and its step log. Default `false` (read committed: each statement sees
   * what was committed before it started).
   */
  snapshot?: boolean;
}

function beginStatement(options: TransactionOptions): string {
  // One round trip for every statement (simple query protocol, no parameters).
  const begin = options.snapshot === true ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN';
  return options.synchronousCommit === false ? `${begin}; SET LOCAL synchronous_commit = off` : begin;
}

/** A transaction's statements that went out without anyone awaiting them ({@link sendInTransaction}). */
interface Unawaited {
  sent: Array<Promise<void>>;
  /** The first of them that failed: it aborted the transaction, so it is the cause of what follows. */
  failure?: unknown;
}

/** The transactions {@link withTransaction} has open on pipelining clients. */
const unawaitedByClient = new WeakMap<pg.PoolClient, Unawaited>();

/** PostgreSQL's `in_failed_sql_transaction`: a statement after an earlier one failed in the transaction. */
const inFailedTransaction = '25P02';

function track(unawaited: Unawaited, query: Promise<unknown>): void {
  unawaited.sent.push(
    query.then(
      () => undefined,
      (error: unknown) => {
        unawaited.failure ??= error;
      },
    ),
  );
}

/**
 * Sends a statement whose result the caller does not need, e.g. an outbox insert: inside a
 * {@link withTransaction} on a pipelining client ({@link createPool}) it goes out at once and this
 * resolves without waiting for its answer, so it shares a round trip with the next statement;
 * the transaction's COMMIT then checks that it succeeded. Anywhere else the statement is awaited.
 *
 * If it fails, the transaction is aborted: the statements after it fail with PostgreSQL's
 * "current transaction is aborted", COMMIT rolls back, and `withTransaction` throws this
 * statement's error, the cause. A `ROLLBACK TO SAVEPOINT` that undoes it lets the transaction
 * commit after all.
 *
 * @throws the database error, only where the statement is awaited.
 */
export async function sendInTransaction(db: Queryable, query: pg.QueryConfig): Promise<void> {
  const unawaited = unawaitedByClient.get(db as pg.PoolClient);
  if (unawaited === undefined) {
    await db.query(query);
    return;
  }
  track(unawaited, db.query(query));
}

/**
 * Runs `work` inside one transaction on a dedicated client: COMMIT when it resolves, ROLLBACK
 * when it throws (and the error is rethrown).
 *
 * On a pipelining client ({@link createPool}) BEGIN goes out with `work`'s first statement and
 * COMMIT with its last unawaited ones ({@link sendInTransaction}), each without a round trip of
 * its own.
 *
 * @throws whatever `work` throws, the error of a statement sent with {@link sendInTransaction}
 *   that aborted the transaction, or the database error of BEGIN or COMMIT.
 */
export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const client = await pool.connect();
  const unawaited: Unawaited = { sent: [] };
  if (client.pipeline) unawaitedByClient.set(client, unawaited);
  try {
    if (client.pipeline) {
      // BEGIN itself cannot fail on a working connection, and when the connection fails, so does
      // everything sent behind it: nothing runs outside the transaction.
      track(unawaited, client.query(beginStatement(options)));
    } else {
      await client.query(beginStatement(options));
    }
    const result = await work(client);
    const committing = client.query('COMMIT');
    await Promise.all(unawaited.sent);
    // COMMIT of a transaction that a statement aborted answers ROLLBACK, not an error.
    if ((await committing).command !== 'COMMIT') throw unawaited.failure ?? new Error('the transaction was rolled back at COMMIT');
    return result;
  } catch (error) {
    await Promise.all(unawaited.sent);
    await client.query('ROLLBACK').catch(() => undefined);
    const abortedByUnawaited = unawaited.failure !== undefined && (error as { code?: unknown }).code === inFailedTransaction;
    throw abortedByUnawaited ? unawaited.failure : error;
  } finally {
    unawaitedByClient.delete(client);
    client.release();
  }
}

/**
 * A folder of SQL migrations owned by one app or lib, tracked in its own table
 * `pgmigrations_<name>` so that each owner's history is independent.
 */
export interface MigrationSource {
  name: string;
  dir: string;
}

/**
 * Finds a migrations folder both in the source tree and in a bundle. A bundle has the folders
 * copied next to it as `migrations/<name>` (see each app's build assets); in the source tree the
 * folder sits at `sourceTreePath` relative to the calling module.
 *
 * @param moduleUrl - the caller's `import.meta.url`.
 */
export function migrationSource(name: string, moduleUrl: string, sourceTreePath: string): MigrationSource {
  const moduleDir = path.dirname(fileURLToPath(moduleUrl));
  const bundled = path.join(moduleDir, 'migrations', name);
  return { name, dir: existsSync(bundled) ? bundled : path.resolve(moduleDir, sourceTreePath) };
}

/** Advisory lock key held while migrating: any fixed bigint shared by every instance works. */
const migrationLockKey = 7_400_355_001;

/**
 * Applies every pending migration of each source, in order, with node-pg-migrate. Instances that
 * start together wait for one another on a PostgreSQL advisory lock, so each migration runs once.
 * (node-pg-migrate's own lock fails at once when another instance holds it, instead of waiting.)
 *
 * @throws the first migration error; nothing of a failed migration stays applied.
 */
export async function migrate(pool: pg.Pool, sources: readonly MigrationSource[], logger: Logger): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [migrationLockKey]);
    for (const source of sources) {
      const applied = await runWhenUnlocked(() => runner({
        dbClient: client,
        dir: source.dir,
        migrationsTable: `pgmigrations_${source.name.replace(/\W/g, '_')}`,
        direction: 'up',
        count: Infinity,
        singleTransaction: true,
        noLock: true,
        logger: { debug: () => undefined, info: () => undefined, warn: (msg: string) => logger.warn(msg), error: (msg: string) => logger.error(msg) },
      }));
      if (applied.length > 0) logger.info({ source: source.name, migrations: applied.map((m) => m.name) }, 'migrations applied');
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [migrationLockKey]).catch(() => undefined);
    client.release();
  }
}

/** node-pg-migrate refuses at once while another instance holds the migration lock: wait for it instead. */
async function runWhenUnlocked<T>(run: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const locked = error instanceof Error && /Another migration is already running/.test(error.message);
      if (!locked || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * attempt)));
    }
  }
}
