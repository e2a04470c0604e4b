import pg from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import { writeEachTickAtOnce, type Logger } from '@msr/service-defaults';
import { fullJitterDelay } from '@msr/circuit-breaker';
import type { KafkaBus } from './kafka/kafka-bus.js';
import type { OutgoingRecord } from './kafka/records.js';
import { registerLocalRelay } from './outbox.js';

/** What an {@link OutboxRelay} needs. */
export interface OutboxRelayOptions {
  /** The service's own database, holding the `outbox` table (see `eventsMigrations`). */
  pool: pg.Pool;
  bus: KafkaBus;
  logger: Logger;
  /** Where to register `outbox_published_total` and `outbox_oldest_unpublished_age_seconds`. */
  metricsRegistry?: Registry;
  /** Rows published per batch (one producer request); default 100. */
  batchSize?: number;
  /** How often the outbox is checked without a notification, in ms; default 500. */
  pollIntervalMs?: number;
  /**
   * How long a pass waits after a wake-up, so that transactions committing at about the same time
   * join its batch, in ms; default {@link defaultOutboxLingerMs}. Kafka's producer does the same
   * with `linger.ms` (5 ms by default since Kafka 4.0, KIP-1030). 0 publishes at once.
   */
  lingerMs?: number;
  /**
   * How long published rows are kept before the relay deletes them, in ms; default
   * {@link defaultOutboxRetentionMs}. `Infinity` keeps them for good.
   */
  retentionMs?: number;
  /** How often the relay deletes published rows past `retentionMs`, in ms; default 60000. */
  pruneIntervalMs?: number;
}

/**
 * How long a relay waits after a wake-up before its pass unless `OutboxRelayOptions.lingerMs` says
 * otherwise, in ms: at a few hundred messages a second it publishes several per pass (a
 * transaction and a Kafka request each) instead of one, for at most this much more latency.
 */
export const defaultOutboxLingerMs = 5;

/** How long published outbox rows are kept unless `OutboxRelayOptions.retentionMs` says otherwise: one day, in ms. */
export const defaultOutboxRetentionMs = 24 * 60 * 60 * 1_000;
/** Published rows deleted per statement when pruning: short transactions, never a long lock. */
const pruneBatchSize = 1_000;
/** Pruning statements per round at most; the rest waits for the next round. */
const maxPruneBatchesPerRound = 20;

/** The relay that publishes holds this session-level advisory lock on its connection. */
const relayLockKey = 4_711_000_001;
/** Longest pause between attempts while publishing fails, in ms. */
const maxFailureBackoffMs = 10_000;

interface OutboxRow {
  id: string;
  topic: string;
  key: string | null;
  headers: Record<string, string>;
  payload: unknown;
  /** Set instead of `payload` for a dead letter republished byte for byte. */
  raw_value: string | null;
}

/** Kafka refused a batch; the attempt is recorded on its rows. */
class SendError extends Error {
  constructor(cause: unknown) {
    super(`publishing failed: ${String(cause)}`, { cause });
    this.name = 'SendError';
  }
}

/**
 * The transactional outbox relay (SYSTEM.md, Messaging): publishes committed `outbox` rows to
 * Kafka in `seq` order, in batches, with the idempotent producer, and marks them published.
 * Delivery is at least once (a crash between the Kafka ack and marking the rows republishes
 * them); consumers deduplicate by message id in their inbox.
 *
 * It works on a connection of its own, which
 * - holds a session-level advisory lock while this relay is the one that publishes: with several
 *   instances of a service exactly one publishes at a time (the others try again at each poll and
 *   take over at once when its connection goes), so one key's messages never overtake each other;
 * - `LISTEN`s on `outbox`, woken by the notification `enqueueMessage` / `withOutboxTransaction`
 *   send at or after commit (in-process, `withOutboxTransaction` wakes this relay directly), and
 *   polls every `pollIntervalMs` as a fallback;
 * - commits without waiting for the disk (`synchronous_commit = off`): marking rows published may
 *   be lost in a database crash at no cost but a republish;
 * - reads the queue with a plain index scan (`enable_bitmapscan = off`), whose cost does not grow
 *   with the published rows awaiting VACUUM;
 * - deletes published rows once they are older than `retentionMs` (a day by default), checking
 *   every `pruneIntervalMs`, so the table does not grow without bound.
 *
 * A pass starts `lingerMs` after the wake-up, so that messages committed at about the same time
 * go out in one batch. Each pass is one transaction of two round trips: `BEGIN` with `SELECT … FOR UPDATE SKIP LOCKED`
 * of the oldest unpublished rows, then (after the producer's ack from all in-sync replicas)
 * `UPDATE … published_at` with `COMMIT`. A failing send records `attempts` and `last_error` on the
 * rows and backs off; the relay never stops on an error. A row that cannot be published holds back
 * the rows after it (order first); `outbox_oldest_unpublished_age_seconds` shows that.
 */
export class OutboxRelay {
  private readonly pool: pg.Pool;
  private readonly bus: KafkaBus;
  private readonly logger: Logger;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly lingerMs: number;
  private readonly published: Counter;
  private readonly pruned: Counter;
  private readonly retentionMs: number;
  private readonly pruneIntervalMs: number;
  private nextPruneAt = 0;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private client: pg.Client | undefined;
  private leading = false;
  private unregister: (() => void) | undefined;
  /** A wake-up arrived since the current pass started: pass again before pausing. */
  private notified = false;
  /** Ends the current pause early (`byNotify`: a wake-up may end it, not only stop()). */
  private interrupt: { finish: () => void; byNotify: boolean } | undefined;

  constructor(options: OutboxRelayOptions) {
    this.pool = options.pool;
    this.bus = options.bus;
    this.logger = options.logger.child({ component: 'outbox-relay' });
    this.batchSize = options.batchSize ?? 100;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.lingerMs = options.lingerMs ?? defaultOutboxLingerMs;
    const registers = options.metricsRegistry ? [options.metricsRegistry] : [];
    this.published = new Counter({ name: 'outbox_published_total', help: 'Outbox messages published to Kafka.', registers });
    this.pruned = new Counter({ name: 'outbox_pruned_total', help: 'Published outbox messages deleted after the retention period.', registers });
    this.retentionMs = options.retentionMs ?? defaultOutboxRetentionMs;
    this.pruneIntervalMs = options.pruneIntervalMs ?? 60_000;
    const pool = this.pool;
    new Gauge({
      name: 'outbox_oldest_unpublished_age_seconds',
      help: 'Age of the oldest outbox message not yet published, in seconds (0 when none).',
      registers,
      async collect() {
        try {
          const { rows } = await pool.query<{ age: number | null }>(
            `SELECT extract(epoch FROM now() - created_at)::float8 AS age
               FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1`,
          );
          this.set(rows[0]?.age ?? 0);
        } catch {
          // The database is unreachable (or the pool closed during shutdown): keep the last value.
        }
      },
    });
  }

  /** Starts relaying in the background. Calling it again while running does nothing. */
  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.unregister = registerLocalRelay(this.pool, { leading: () => this.leading, wake: () => this.wake() });
    this.loop = this.run();
  }

  /** Finishes the batch in hand, then closes its connection (releasing the lock). Leaves the producer to `bus.disconnect()`. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.stopping = true;
    this.interrupt?.finish();
    await this.loop;
    this.loop = undefined;
    this.unregister?.();
    await this.disconnect();
    this.logger.info('outbox relay stopped');
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      let count = 0;
      try {
        const client = await this.connection();
        if (!this.leading) this.leading = await this.tryToLead(client);
        // Pruning first: a row that cannot be published (and fails every pass) must not stop it.
        if (this.leading && Date.now() >= this.nextPruneAt) await this.prune(client);
        if (this.leading) count = await this.publishBatch(client);
        failures = 0;
      } catch (error) {
        failures += 1;
        // A failed send was recorded on the rows and committed; anything else may have left the
        // connection mid-transaction or broken: start again on a new one.
        if (!(error instanceof SendError)) await this.disconnect();
        const pauseMs = fullJitterDelay(failures, { maxAttempts: Infinity, baseDelayMs: this.pollIntervalMs, maxDelayMs: maxFailureBackoffMs });
        this.logger.error({ err: error instanceof SendError ? error.cause : error, failures, retry_in_ms: pauseMs }, 'outbox publish failed');
        await this.pause(pauseMs, false);
        continue;
      }
      if (count < this.batchSize) {
        await this.pause(this.pollIntervalMs, true);
        // Woken by a commit: the transactions committing alongside it join the same batch.
        if (this.notified && this.lingerMs > 0) await this.pause(this.lingerMs, false);
      }
    }
  }

  /** The relay's own connection: listening, and committing without waiting for the disk. */
  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const applicationName = `${this.pool.options.application_name ?? 'service'}:outbox-relay`;
    // Pipelining: BEGIN goes out with the batch's SELECT, and COMMIT with its UPDATE.
    const client = new pg.Client({ ...this.pool.options, application_name: applicationName, pipeline: true });
    writeEachTickAtOnce(client);
    client.on('notification', () => this.wake());
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'outbox relay connection lost; reconnecting');
      if (this.client === client) {
        this.client = undefined;
        this.leading = false;
      }
      this.interrupt?.finish();
    });
    try {
      await client.connect();
      // No bitmap scans on this session: for `… ORDER BY seq LIMIT n` on a fresh or recently
      // published-to table the planner prefers a bitmap scan of the partial index plus a sort, which
      // visits the heap for every row published since the last VACUUM (a cost that grows by the
      // minute). A plain index scan marks those entries dead as it passes and skips them from then on.
      await client.query('SET synchronous_commit = off; SET enable_bitmapscan = off; LISTEN outbox');
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    return client;
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.leading = false;
    await client?.end().catch(() => undefined);
  }

  /** Takes the publishing lock unless another relay of this database holds it. */
  private async tryToLead(client: pg.Client): Promise<boolean> {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [relayLockKey]);
    const locked = rows[0]?.locked === true;
    if (locked) this.logger.info('this relay publishes the outbox now');
    return locked;
  }

  /** Publishes the oldest unpublished rows; returns how many. */
  private async publishBatch(client: pg.Client): Promise<number> {
    this.notified = false;
    // SKIP LOCKED: the relay never waits behind another transaction that holds outbox rows.
    const [, { rows }] = await Promise.all([
      client.query('BEGIN'),
      client.query<OutboxRow>({
        name: 'outbox_next_batch',
        text: 'SELECT id, topic, key, headers, payload, raw_value FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED',
        values: [Math.trunc(this.batchSize)],
      }),
    ]);
    if (rows.length === 0) {
      await client.query('COMMIT');
      return 0;
    }
    const ids = rows.map((row) => row.id);
    const records: OutgoingRecord[] = rows.map((row) => ({ topic: row.topic, key: row.key, headers: row.headers, value: row.raw_value ?? JSON.stringify(row.payload) }));
    try {
      await this.bus.producer().send(records);
    } catch (error) {
      await commitAfter(client, {
        name: 'outbox_send_failed',
        text: 'UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::uuid[])',
        values: [ids, String(error)],
      });
      throw new SendError(error);
    }
    await commitAfter(client, { name: 'outbox_published', text: 'UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1::uuid[])', values: [ids] });
    this.published.inc(rows.length);
    this.logger.debug({ count: rows.length }, 'outbox batch published');
    return rows.length;
  }

  /**
   * Deletes published rows older than the retention, oldest first, in short statements (each its
   * own transaction, not waiting for the disk: a lost deletion is simply done again). A failure is
   * logged and tried again at the next round; publishing goes on either way.
   */
  private async prune(client: pg.Client): Promise<void> {
    this.nextPruneAt = Date.now() + this.pruneIntervalMs;
    if (!Number.isFinite(this.retentionMs)) return;
    let total = 0;
    try {
      for (let batch = 0; batch < maxPruneBatchesPerRound && !this.stopping; batch += 1) {
        const { rowCount } = await client.query({
          name: 'outbox_prune',
          text: `DELETE FROM outbox WHERE id IN (
                   SELECT id FROM outbox WHERE published_at < now() - make_interval(secs => $1) ORDER BY published_at LIMIT $2)`,
          values: [this.retentionMs / 1_000, pruneBatchSize],
        });
        total += rowCount ?? 0;
        if ((rowCount ?? 0) < pruneBatchSize) break;
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'outbox pruning failed; trying again at the next round');
    }
    if (total > 0) {
      this.pruned.inc(total);
      this.logger.debug({ count: total }, 'published outbox rows pruned');
    }
  }

  private wake(): void {
    this.notified = true;
    if (this.interrupt?.byNotify) this.interrupt.finish();
  }

  /** Waits `ms`, or less when stopping (or, if `byNotify`, when a wake-up arrives). */
  private pause(ms: number, byNotify: boolean): Promise<void> {
    if (this.stopping || (byNotify && this.notified)) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.interrupt = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.interrupt = { finish, byNotify };
    });
  }
}

/** Runs `statement` and COMMIT in one round trip (pipelined); COMMIT of a failed statement rolls back. */
async function commitAfter(client: pg.Client, statement: pg.QueryConfig): Promise<void> {
  await Promise.all([client.query(statement), client.query('COMMIT')]);
}
