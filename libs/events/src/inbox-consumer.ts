import { setTimeout as delay } from 'node:timers/promises';
import type { Pool, PoolClient } from 'pg';
import { Counter, type Registry } from 'prom-client';
import { fullJitterDelay, type RetryPolicy } from '@msr/circuit-breaker';
import type { Logger } from '@msr/service-defaults';
import { withAsyncCommit } from './async-commit.js';
import type { MessageType } from './catalog.js';
import {
  DeadLetterAlreadyReplayedError,
  DeadLetterNotFoundError,
  DeadLetterReplayError,
  deadLetterTopic,
  loadDeadLetterForReplay,
  registerDeadLetterGauge,
  writeDeadLetter,
  type DeadLetter,
} from './dead-letters.js';
import { decodeMessage, InvalidMessageError, type MessageEnvelope } from './envelope.js';
import { withOutboxTransaction } from './outbox.js';
import type { BusConsumer, KafkaBus } from './kafka/kafka-bus.js';
import { partitionKey, type IncomingRecord } from './kafka/records.js';
import { defaultPartitions } from './topics.js';

/** What a handler may do besides its work on `tx`. */
export interface InboxContext {
  /**
   * Runs `callback` once the handler's transaction has committed, and never if it rolls back
   * (e.g. to drive a saga whose new state is only visible after the commit). Errors thrown by
   * the callback are logged.
   */
  afterCommit(callback: () => void): void;
  /** Where the record came from (for a replayed dead letter: where it had come from). */
  record: { topic: string; partition: number; offset: string };
}

/**
 * Handles one message of type `T`. Do every effect, and enqueue every outgoing message
 * (`enqueueMessage(tx, ...)`), on `tx`: it is the transaction that also records the message in
 * the inbox, so the effects happen exactly once. Throw to have the message retried; throw a
 * {@link PoisonMessageError} (or `InvalidMessageError`) to dead-letter it at once.
 */
export type InboxHandler<T extends MessageType> = (message: MessageEnvelope<T>, tx: PoolClient, context: InboxContext) => Promise<void>;

/**
 * A message its handler can never process as things stand (e.g. a saga reply for a definition
 * this process does not know): not retried, dead-lettered at once, replayable once fixed.
 */
export class PoisonMessageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PoisonMessageError';
  }
}

/** What an {@link InboxConsumer} needs. */
export interface InboxConsumerOptions {
  bus: KafkaBus;
  /** The service's own database, holding the `inbox` and `dead_letters` tables (`eventsMigrations`). */
  pool: Pool;
  /** Kafka consumer group id; also the inbox's consumer name (each group deduplicates on its own). */
  groupId: string;
  topics: string[];
  logger: Logger;
  /**
   * Where to register `inbox_messages_total{consumer,type,outcome}` and
   * `dead_letters_pending{consumer}` (shared by the consumers of a process).
   */
  metricsRegistry?: Registry;
  /** Handler retries before dead-lettering; default 5 attempts, 100 ms doubling to 2 s, full jitter. */
  retry?: Partial<RetryPolicy>;
  /**
   * Deliveries of one message that may end without its transaction committing (the process
   * crashed or lost its group while handling it) before the next delivery dead-letters it
   * instead of running the handler again; default {@link defaultMaxDeliveries}. Counted from the
   * first delivery after a partition assignment (see {@link InboxConsumer}).
   */
  maxDeliveries?: number;
  /** Partitions handled at once (each uses a database connection while handling); default {@link defaultPartitions}. */
  partitionsConsumedConcurrently?: number;
}

/** The retry policy of a handler that throws, unless `InboxConsumerOptions.retry` overrides it. */
export const defaultHandlerRetry: RetryPolicy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 2_000 };

/** Deliveries of a message that crashed its consumer before it is dead-lettered, unless `maxDeliveries` says otherwise. */
export const defaultMaxDeliveries = 3;

/** How a record ended: `processed` by a handler, a `duplicate` already in the inbox, `skipped` (no handler), or `dead_lettered`. */
export type InboxOutcome = 'processed' | 'duplicate' | 'skipped' | 'dead_lettered';

/** What {@link InboxConsumer.replay} did with a dead letter. */
export interface ReplayResult {
  deadLetterId: string;
  /** `processed` by its handler, `skipped` (no handler now), or `duplicate` (handled meanwhile by a later delivery). */
  outcome: Exclude<InboxOutcome, 'dead_lettered'>;
  replayedAt: string;
}

/**
 * An idempotent Kafka consumer (inbox pattern, SYSTEM.md Messaging). For each record, in order per
 * partition:
 * 1. decode and validate it (an undecodable record is dead-lettered at once);
 * 2. where a crash may have interrupted an earlier delivery, claim it in the inbox, committed on
 *    its own (without waiting for the disk: a delivery count lost in a database crash is
 *    harmless): `(message_id, groupId)` as `in_progress`, or one more delivery of a row still
 *    `in_progress`. A message already handled is a duplicate and is skipped; one delivered more
 *    than `maxDeliveries` times without ever committing (it crashed the process each time) is
 *    dead-lettered instead of run again;
 * 3. in one transaction, mark the inbox row `processed` (or, without a claim, insert it as
 *    `processed`) and run the handler; commit;
 * 4. only then is the Kafka offset committed (batched, see `OffsetCommits`). A crash before that
 *    redelivers the record, which the inbox recognises.
 *
 * Which deliveries are claimed first: only one record per partition is ever in flight, so a
 * member that died interrupted at most the first record of each of its partitions that the inbox
 * has not handled, and whoever is assigned the partition next reads that record among the first.
 * So after every assignment (a group join), records are claimed until one of the partition's
 * records is handled to the end; from then on, until the next assignment, a record is new to the
 * group unless the inbox says otherwise, and it is handled at once in one transaction with its
 * inbox row (a row already there, handled or claimed, sends it back to the claim). That saves a
 * transaction per message in steady state. What it costs: a message whose first delivery came in
 * steady state and crashed the process is counted from its next delivery, so it runs at most
 * `maxDeliveries` + 1 times before it is dead-lettered.
 *
 * A handler that throws is retried with exponential backoff and jitter; after the last attempt
 * (at once for `InvalidMessageError` and {@link PoisonMessageError}) the message is dead-lettered:
 * a `dead_letters` row with the error, topic, partition and offset, the inbox row marked
 * `dead_lettered`, and the original record republished to `<topic>.dlq` (through the outbox, in
 * the same transaction) with the error, topic, partition and offset as `dlq_*` headers; the
 * partition moves on. {@link replay} runs a dead letter's handler again once the cause is fixed.
 * Nothing is thrown back into kafkajs except when even the dead letter cannot be written
 * (database down): kafkajs then restarts the consumer and the record comes again.
 *
 * Records already fetched for other partitions are handled concurrently
 * (`partitionsConsumedConcurrently`), though kafkajs fetches new records only once the fetched
 * ones are done, so a slow handler does delay the next fetch for every partition.
 */
export class InboxConsumer {
  private readonly bus: KafkaBus;
  private readonly pool: Pool;
  private readonly groupId: string;
  private readonly topics: readonly string[];
  private readonly logger: Logger;
  private readonly retry: RetryPolicy;
  private readonly maxDeliveries: number;
  private readonly concurrency: number;
  private readonly handled: Counter<'consumer' | 'type' | 'outcome'>;
  private readonly handlers = new Map<MessageType, InboxHandler<MessageType>>();
  /** Per partition (`topic`, NUL, `partition`): the assignment in which a record of it was last handled to the end. */
  private readonly settled = new Map<string, number>();
  private consumer: BusConsumer | undefined;
  private fatal: Error | undefined;
  private background: Promise<void> | undefined;
  private stopping = false;

  constructor(options: InboxConsumerOptions) {
    this.bus = options.bus;
    this.pool = options.pool;
    this.groupId = options.groupId;
    this.topics = [...options.topics];
    this.logger = options.logger.child({ component: 'inbox-consumer', group_id: options.groupId });
    this.retry = { ...defaultHandlerRetry, ...options.retry };
    this.maxDeliveries = options.maxDeliveries ?? defaultMaxDeliveries;
    this.concurrency = options.partitionsConsumedConcurrently ?? defaultPartitions;
    this.handled = inboxCounter(options.metricsRegistry);
    if (options.metricsRegistry) registerDeadLetterGauge(options.metricsRegistry, this.pool);
  }

  /** The consumer group id, which is also this consumer's name in `inbox` and `dead_letters`. */
  get name(): string {
    return this.groupId;
  }

  /** Set when kafkajs gave up on the consumer for good (a non-retriable error); readiness should fail then. */
  get failure(): Error | undefined {
    return this.fatal;
  }

  /**
   * Registers the handler of message type `type`. Register every handler before {@link start}.
   *
   * @throws {Error} when the consumer has started or `type` already has a handler.
   */
  on<T extends MessageType>(type: T, handler: InboxHandler<T>): this {
    if (this.consumer) throw new Error(`register the ${type} handler before start()`);
    if (this.handlers.has(type)) throw new Error(`${type} already has a handler`);
    // Safe widening: dispatch looks the handler up by the message's own type, so it only ever receives a MessageEnvelope<T>.
    this.handlers.set(type, handler as unknown as InboxHandler<MessageType>);
    return this;
  }

  /**
   * Creates the dead-letter topics (`<topic>.dlq`) when missing, joins the consumer group and
   * starts consuming `topics` (a new group reads from the beginning). Resolves once the group
   * has been joined.
   *
   * @throws {Error} when already started; the Kafka error when joining fails (e.g. a topic is missing).
   */
  async start(): Promise<void> {
    if (this.consumer) throw new Error(`consumer ${this.groupId} already started`);
    const consumer = this.bus.createConsumer(this.groupId);
    this.consumer = consumer;
    try {
      await this.bus.ensureTopics(this.topics.map(deadLetterTopic));
      await consumer.start({
        topics: this.topics,
        partitionsConsumedConcurrently: this.concurrency,
        eachRecord: (record) => this.handle(record),
        onFatal: (error) => {
          this.fatal = error;
        },
      });
    } catch (error) {
      this.consumer = undefined;
      throw error;
    }
    this.logger.info({ topics: this.topics, types: [...this.handlers.keys()] }, 'inbox consumer joined its group');
  }

  /**
   * {@link start} without holding up the caller: a service serves HTTP and recovers its sagas
   * while the group join (up to the session timeout after a crash) is still under way. A failed
   * start is logged and tried again (backoff up to 5 s) until it joins or {@link stop} is called.
   *
   * @returns a promise that resolves once joined (or once stopped before joining); it never rejects.
   */
  startInBackground(): Promise<void> {
    this.stopping = false;
    this.background ??= (async () => {
      for (let attempt = 1; !this.stopping; attempt += 1) {
        try {
          await this.start();
          return;
        } catch (error) {
          const pauseMs = Math.min(5_000, 200 * 2 ** attempt);
          this.logger.warn({ err: error, attempt, retry_in_ms: pauseMs }, 'inbox consumer could not join its group; trying again');
          await delay(pauseMs);
        }
      }
    })();
    return this.background;
  }

  /** Finishes the message in hand (including its retries), leaves the group and disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.background;
    this.background = undefined;
    const consumer = this.consumer;
    if (!consumer) return;
    await consumer.stop();
    this.consumer = undefined;
    this.logger.info('inbox consumer stopped');
  }

  /**
   * Runs the handler of dead letter `deadLetterId` (of this consumer) once more, in one
   * transaction with its inbox row (now `processed`) and the dead letter's `replayed_at`; no
   * retries (call again). For after the cause was fixed: a new version deployed, a missing row
   * created. A message that a later delivery handled meanwhile is only marked replayed.
   *
   * @throws {DeadLetterNotFoundError} when this consumer has no such dead letter.
   * @throws {DeadLetterAlreadyReplayedError} when it was replayed before.
   * @throws {DeadLetterReplayError} when the record still cannot be decoded or the handler throws;
   * the attempt and its error are recorded on the dead letter.
   */
  async replay(deadLetterId: string): Promise<ReplayResult> {
    const callbacks: Array<() => void> = [];
    let deadLetter: DeadLetter | undefined;
    try {
      const result = await withOutboxTransaction(this.pool, async (tx) => {
        deadLetter = await loadDeadLetterForReplay(tx, deadLetterId, this.groupId);
        if (deadLetter === undefined) throw new DeadLetterNotFoundError(deadLetterId);
        if (deadLetter.replayedAt !== null) throw new DeadLetterAlreadyReplayedError(deadLetterId, deadLetter.replayedAt);
        const message = decode(deadLetter);
        const handler = this.handlers.get(message.type);
        let outcome: ReplayResult['outcome'] = 'skipped';
        const { rowCount } = await tx.query(
          `INSERT INTO inbox (message_id, consumer, type, outcome) VALUES ($1, $2, $3, $4)
           ON CONFLICT (message_id, consumer) DO UPDATE SET outcome = EXCLUDED.outcome, processed_at = now()
             WHERE inbox.outcome IN ('dead_lettered', 'in_progress')`,
          [message.id, this.groupId, message.type, handler ? 'processed' : 'skipped'],
        );
        if (rowCount !== 1) outcome = 'duplicate';
        else if (handler) {
          const context = { afterCommit: (callback: () => void) => void callbacks.push(callback), record: { topic: deadLetter.topic, partition: deadLetter.partition, offset: deadLetter.offset } };
          await handler(message, tx, context);
          outcome = 'processed';
        }
        const { rows } = await tx.query<{ replayed_at: Date }>(
          'UPDATE dead_letters SET replayed_at = now(), replay_attempts = replay_attempts + 1, last_replay_error = NULL WHERE id = $1 RETURNING replayed_at',
          [deadLetterId],
        );
        return { deadLetterId, outcome, replayedAt: rows[0]!.replayed_at.toISOString() };
      });
      this.runCallbacks(callbacks);
      this.logger.info({ dead_letter_id: deadLetterId, outcome: result.outcome }, 'dead letter replayed');
      return result;
    } catch (error) {
      if (error instanceof DeadLetterNotFoundError || error instanceof DeadLetterAlreadyReplayedError || deadLetter === undefined) throw error;
      const reason = describe(error);
      await this.pool.query('UPDATE dead_letters SET replay_attempts = replay_attempts + 1, last_replay_error = $2 WHERE id = $1', [deadLetterId, reason]);
      this.logger.warn({ err: error, dead_letter_id: deadLetterId }, 'dead letter replay failed');
      throw new DeadLetterReplayError(deadLetterId, reason, { cause: error });
    }
  }

  /** Handles one record to the end; throws only when even the dead letter cannot be written. */
  private async handle(record: IncomingRecord): Promise<void> {
    let message: MessageEnvelope;
    try {
      message = decode(record);
    } catch (error) {
      if (!(error instanceof InvalidMessageError)) throw error;
      this.logger.error({ err: error, topic: record.topic, partition: record.partition, offset: record.offset }, 'undecodable record dead-lettered');
      await withOutboxTransaction(this.pool, (tx) => writeDeadLetter(tx, { consumer: this.groupId, record, messageId: validUuid(record.headers['message_id']), type: record.headers['event_type'] ?? null, error, attempts: 0 }));
      this.handled.inc({ consumer: this.groupId, type: 'invalid', outcome: 'dead_lettered' });
      return;
    }

    const log = this.logger.child({ message_id: message.id, type: message.type, correlation_id: message.correlation_id });
    const outcome = await this.handleMessage(record, message, log);
    log.debug({ outcome }, 'message handled');
    this.handled.inc({ consumer: this.groupId, type: message.type, outcome });
  }

  private async handleMessage(record: IncomingRecord, message: MessageEnvelope, log: Logger): Promise<InboxOutcome> {
    const handler = this.handlers.get(message.type);
    if (!handler) {
      // Losing this row in a database crash only means the message is skipped once more.
      const { rowCount } = await withAsyncCommit(this.pool, (tx) =>
        tx.query({
          name: 'inbox_skip',
          text: `INSERT INTO inbox (message_id, consumer, type, outcome) VALUES ($1, $2, $3, 'skipped') ON CONFLICT (message_id, consumer) DO NOTHING`,
          values: inboxValues(message, this.groupId),
        }),
      );
      return this.settle(record, rowCount === 1 ? 'skipped' : 'duplicate');
    }

    // In steady state the record is handled in one transaction that also writes its inbox row.
    // Only where a crash may have interrupted it (the first records of a partition after an
    // assignment), or where the inbox already knows it, is the delivery claimed first.
    if (this.settled.get(partitionKey(record.topic, record.partition)) === record.assignment) {
      const outcome = await this.runHandler(record, message, handler, log, 'first');
      if (outcome !== undefined) return this.settle(record, outcome);
    }
    const deliveries = await this.claim(message);
    if (deliveries === undefined) return 'duplicate';
    if (deliveries > this.maxDeliveries) {
      const error = new PoisonMessageError(`delivered ${deliveries} times without its handling ever committing: it crashed or stalled its consumer each time`);
      log.error({ err: error, deliveries, topic: record.topic, partition: record.partition, offset: record.offset }, 'message dead-lettered after repeated deliveries');
      return this.settle(record, await this.deadLetter(record, message, error, deliveries - 1));
    }
    return this.settle(record, (await this.runHandler(record, message, handler, log, 'claimed')) ?? 'duplicate');
  }

  /**
   * Runs the handler in the transaction that marks the message processed in the inbox, retrying
   * with backoff, then dead-letters it. `first`: the inbox has no row for it yet (the row is
   * inserted); `claimed`: its claimed row is marked. Returns undefined when the inbox already had
   * the message (`first`: handled, dead-lettered or claimed by an earlier delivery; `claimed`:
   * handled meanwhile by a concurrent delivery).
   */
  private async runHandler(record: IncomingRecord, message: MessageEnvelope, handler: InboxHandler<MessageType>, log: Logger, inbox: 'first' | 'claimed'): Promise<InboxOutcome | undefined> {
    for (let attempt = 1; ; attempt += 1) {
      const callbacks: Array<() => void> = [];
      try {
        const ran = await withOutboxTransaction(this.pool, async (tx) => {
          // Goes out with BEGIN, in one round trip. It locks the inbox row: a concurrent delivery
          // of the same message (a rebalance) waits here, then finds it handled.
          const marked = await tx.query(
            inbox === 'first'
              ? {
                  name: 'inbox_process',
                  text: `INSERT INTO inbox (message_id, consumer, type, outcome, deliveries) VALUES ($1, $2, $3, 'processed', 1) ON CONFLICT (message_id, consumer) DO NOTHING`,
                  values: inboxValues(message, this.groupId),
                }
              : {
                  name: 'inbox_process_claimed',
                  text: `UPDATE inbox SET outcome = 'processed', processed_at = now() WHERE message_id = $1 AND consumer = $2 AND outcome = 'in_progress'`,
                  values: [message.id, this.groupId],
                },
          );
          if (marked.rowCount !== 1) return false;
          const context = { afterCommit: (callback: () => void) => void callbacks.push(callback), record: { topic: record.topic, partition: record.partition, offset: record.offset } };
          await handler(message, tx, context);
          return true;
        });
        if (!ran) return undefined;
        this.runCallbacks(callbacks);
        return 'processed';
      } catch (error) {
        const permanent = error instanceof InvalidMessageError || error instanceof PoisonMessageError;
        if (attempt < this.retry.maxAttempts && !permanent) {
          const pauseMs = fullJitterDelay(attempt, this.retry);
          log.warn({ err: error, attempt, retry_in_ms: pauseMs }, 'message handler failed; retrying');
          await delay(pauseMs);
          continue;
        }
        log.error({ err: error, attempt, topic: record.topic, partition: record.partition, offset: record.offset }, 'message handler failed; dead-lettered');
        return this.deadLetter(record, message, error, attempt);
      }
    }
  }

  /**
   * Notes that `record`'s partition is settled in this assignment once a record of it ended with
   * its handling committed (not a duplicate, which may precede the record a crash interrupted):
   * the partition's later records are new to this member. Returns `outcome`.
   */
  private settle(record: IncomingRecord, outcome: InboxOutcome): InboxOutcome {
    if (outcome !== 'duplicate') this.settled.set(partitionKey(record.topic, record.partition), record.assignment);
    return outcome;
  }

  /**
   * Records one more delivery of `message` in the inbox, committed on its own so that it survives
   * a crash in the handler. Returns the number of deliveries so far, or undefined when the
   * message was handled (or dead-lettered) before.
   */
  private async claim(message: MessageEnvelope): Promise<number | undefined> {
    // A delivery count lost in a database crash costs at most one more delivery of a poison message.
    const { rows } = await withAsyncCommit(this.pool, (tx) =>
      tx.query<{ deliveries: number }>({
        name: 'inbox_claim',
        text: `INSERT INTO inbox (message_id, consumer, type, outcome, deliveries) VALUES ($1, $2, $3, 'in_progress', 1)
               ON CONFLICT (message_id, consumer) DO UPDATE SET deliveries = inbox.deliveries + 1 WHERE inbox.outcome = 'in_progress'
               RETURNING deliveries`,
        values: inboxValues(message, this.groupId),
      }),
    );
    return rows[0]?.deliveries;
  }

  private async deadLetter(record: IncomingRecord, message: MessageEnvelope, error: unknown, attempts: number): Promise<InboxOutcome> {
    return withOutboxTransaction(this.pool, async (tx) => {
      const { rowCount } = await tx.query(
        `INSERT INTO inbox (message_id, consumer, type, outcome) VALUES ($1, $2, $3, 'dead_lettered')
         ON CONFLICT (message_id, consumer) DO UPDATE SET outcome = 'dead_lettered', processed_at = now() WHERE inbox.outcome = 'in_progress'`,
        [message.id, this.groupId, message.type],
      );
      if (rowCount !== 1) return 'duplicate';
      await writeDeadLetter(tx, { consumer: this.groupId, record, messageId: message.id, type: message.type, error, attempts });
      return 'dead_lettered';
    });
  }

  private runCallbacks(callbacks: ReadonlyArray<() => void>): void {
    for (const callback of callbacks) {
      try {
        callback();
      } catch (error) {
        this.logger.error({ err: error }, 'after-commit callback failed');
      }
    }
  }
}

/** The counter of consumed messages; the consumers of one process share it on their registry. */
function inboxCounter(registry: Registry | undefined): Counter<'consumer' | 'type' | 'outcome'> {
  const existing = registry?.getSingleMetric('inbox_messages_total');
  if (existing) return existing as Counter<'consumer' | 'type' | 'outcome'>;
  return new Counter({
    name: 'inbox_messages_total',
    help: 'Messages consumed, by consumer group, type and outcome (processed, duplicate, skipped, dead_lettered).',
    labelNames: ['consumer', 'type', 'outcome'],
    registers: registry ? [registry] : [],
  });
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function validUuid(value: string | undefined): string | null {
  return value !== undefined && uuidPattern.test(value) ? value : null;
}

/** The parameters `message_id, consumer, type` of an inbox row. */
function inboxValues(message: MessageEnvelope, consumer: string): string[] {
  return [message.id, consumer, message.type];
}

/** Decodes a consumed record; a record without key or value is invalid. */
function decode(record: Pick<IncomingRecord, 'key' | 'value' | 'headers'>): MessageEnvelope {
  if (record.key === null) throw new InvalidMessageError('record has no key');
  if (record.value === null) throw new InvalidMessageError('record has no value');
  return decodeMessage({ key: record.key, value: record.value, headers: record.headers });
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
