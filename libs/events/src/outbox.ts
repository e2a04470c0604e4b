import type pg from 'pg';
import { sendInTransaction, withTransaction, type Queryable } from '@msr/service-defaults';
import { messageCatalog } from './catalog.js';
import { encodeMessage, type MessageEnvelope } from './envelope.js';

/** Transactions opened by {@link withOutboxTransaction}: whether they enqueued anything yet. */
const deferredWakeUps = new WeakMap<object, { enqueued: boolean }>();

/** A relay running in this process, as the outbox wakes it. */
interface LocalRelay {
  /** True while it is the relay that publishes this database's outbox. */
  leading(): boolean;
  wake(): void;
}

/** The relays running in this process, by the pool of the database they publish. */
const localRelays = new Map<pg.Pool, LocalRelay>();

/**
 * Lets {@link withOutboxTransaction} wake `relay` in-process, without a notification, while it is
 * the one publishing `pool`'s outbox. Internal to `@msr/events` (`OutboxRelay.start`).
 *
 * @returns a function that undoes the registration.
 */
export function registerLocalRelay(pool: pg.Pool, relay: LocalRelay): () => void {
  localRelays.set(pool, relay);
  return () => {
    if (localRelays.get(pool) === relay) localRelays.delete(pool);
  };
}

/**
 * Writes `message` to the transactional outbox (SYSTEM.md, Messaging; eShop's integration-event
 * log). Call it with the same transaction client as the state change it announces: both commit
 * or neither does, and the `OutboxRelay` publishes it after the commit.
 *
 * The relay is woken by `NOTIFY outbox`: inside the transaction (delivered at commit) for a plain
 * transaction, or right after the commit for one opened with {@link withOutboxTransaction} (the
 * faster choice under load, see there).
 *
 * Enqueueing an id that is already in the outbox is a no-op, so a retried saga step that
 * re-enqueues its command with a deterministic id does not fail.
 *
 * @param topic - defaults to the catalog's topic of `message.type`; pass `message.reply_to` for
 * a reply, or any topic that `KafkaBus.ensureTopics` created.
 * @throws the PostgreSQL error of the insert (the caller's transaction is then aborted).
 */
export async function enqueueMessage(tx: Queryable, message: MessageEnvelope, topic: string = messageCatalog[message.type].topic): Promise<void> {
  const record = encodeMessage(message);
  await insertOutboxRow(
    tx,
    'outbox_insert',
    `INSERT INTO outbox (id, topic, key, type, version, headers, payload) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
    [message.id, topic, record.key, message.type, message.version, record.headers, record.value],
  );
}

/**
 * Runs an `INSERT INTO outbox` statement (prepared as `name`) on `tx` and sees to the relay's wake-up: deferred to
 * after the commit in a {@link withOutboxTransaction}, else a notification delivered at commit
 * (in the same round trip; identical ones within a transaction are folded into one). In a
 * transaction on a pipelining client the insert is not awaited ({@link sendInTransaction}): it
 * shares a round trip with the next statement, and COMMIT checks it.
 * Internal to `@msr/events` (the outbox and the dead letters).
 */
export async function insertOutboxRow(tx: Queryable, name: string, insert: string, values: unknown[]): Promise<void> {
  // Named statements: prepared once per connection, as every message of the service goes through here.
  const deferred = deferredWakeUps.get(tx);
  if (deferred !== undefined) {
    deferred.enqueued = true;
    await sendInTransaction(tx, { name, text: insert, values });
    return;
  }
  await sendInTransaction(tx, { name: `${name}_notify`, text: `WITH inserted AS (${insert}) SELECT pg_notify('outbox', '')`, values });
}

/**
 * Runs `work` in one transaction (COMMIT when it resolves, ROLLBACK when it throws) and, when it
 * enqueued messages ({@link enqueueMessage}), wakes the outbox relays right after the commit.
 *
 * Why not `NOTIFY` inside the transaction: PostgreSQL serializes the commits of all transactions
 * of a database that notify, holding a database-wide lock from just before their commit until it
 * is flushed to disk, so at a few hundred such commits a second every one of them queues behind
 * the others' disk writes. Here the relay is woken after the commit: in-process when this process
 * runs the publishing relay, else by a notification in a tiny transaction of its own that does not
 * wait for the disk. If that fails, the relay's polling picks the messages up.
 *
 * A `withTransaction` underneath: on a pipelining pool BEGIN goes out with `work`'s first
 * statement, and COMMIT with the outbox rows.
 *
 * @throws whatever `work` throws, or the database error of a statement, BEGIN or COMMIT.
 */
export async function withOutboxTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const state = { enqueued: false };
  const result = await withTransaction(pool, async (client) => {
    deferredWakeUps.set(client, state);
    try {
      return await work(client);
    } finally {
      deferredWakeUps.delete(client);
    }
  });
  if (state.enqueued) {
    // The publishing relay is usually in this very process: wake it directly, no round trip.
    const local = localRelays.get(pool);
    if (local?.leading()) local.wake();
    else await wakeOutboxRelays(pool);
  }
  return result;
}

/**
 * Sends `NOTIFY outbox` in a transaction of its own that does not wait for the disk (nothing of
 * value is in it), waking every relay listening on this database. Never throws: a relay that
 * misses it finds the messages at its next poll.
 */
export async function wakeOutboxRelays(pool: pg.Pool): Promise<void> {
  let client: pg.PoolClient | undefined;
  try {
    client = await pool.connect();
    await client.query('BEGIN; SET LOCAL synchronous_commit = off; NOTIFY outbox; COMMIT');
  } catch {
    await client?.query('ROLLBACK').catch(() => undefined);
  } finally {
    client?.release();
  }
}
