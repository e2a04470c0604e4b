import type { Pool, PoolClient } from 'pg';
import { Gauge, type Registry } from 'prom-client';
import type { Queryable } from '@msr/service-defaults';
import type { IncomingRecord } from './kafka/records.js';
import { insertOutboxRow } from './outbox.js';

/** The topic a consumer's dead letters from `topic` are republished to: `<topic>.dlq`. */
export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}

/**
 * A record a consumer gave up on (table `dead_letters`), as the admin endpoint lists it. Key,
 * value and headers are the original record's, as received; `offset` is a decimal string.
 */
export interface DeadLetter {
  id: string;
  /** The consumer group that gave up on it. */
  consumer: string;
  topic: string;
  partition: number;
  offset: string;
  /** Null when the record carried no valid message id. */
  messageId: string | null;
  type: string | null;
  key: string | null;
  headers: Record<string, string>;
  value: string | null;
  /** `<error name>: <message>` of the last failure. */
  error: string;
  /** Handler attempts before giving up (0: the record could not be decoded). */
  attempts: number;
  createdAt: string;
  /** When a replay handled it; null while it waits for one. */
  replayedAt: string | null;
  replayAttempts: number;
  lastReplayError: string | null;
}

/** Filter of {@link listDeadLetters}. */
export interface DeadLetterFilter {
  consumer?: string;
  /** `pending`: not replayed yet; `replayed`; absent: both. */
  status?: 'pending' | 'replayed';
  /** Most rows returned, newest first; default 100. */
  limit?: number;
}

/** No dead letter with this id for the consumer asked. */
export class DeadLetterNotFoundError extends Error {
  constructor(readonly deadLetterId: string) {
    super(`No dead letter ${deadLetterId}`);
    this.name = 'DeadLetterNotFoundError';
  }
}

/** The dead letter was replayed already; replaying it again would run its handler twice. */
export class DeadLetterAlreadyReplayedError extends Error {
  constructor(
    readonly deadLetterId: string,
    readonly replayedAt: string,
  ) {
    super(`Dead letter ${deadLetterId} was replayed at ${replayedAt}`);
    this.name = 'DeadLetterAlreadyReplayedError';
  }
}

/** A replay failed again (the record is still invalid, or its handler threw); recorded on the dead letter. */
export class DeadLetterReplayError extends Error {
  constructor(
    readonly deadLetterId: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Replaying dead letter ${deadLetterId} failed: ${reason}`, options);
    this.name = 'DeadLetterReplayError';
  }
}

interface DeadLetterRow {
  id: string;
  consumer: string;
  topic: string;
  partition: number;
  offset: string;
  message_id: string | null;
  type: string | null;
  key: string | null;
  headers: Record<string, string>;
  value: string | null;
  error: string;
  attempts: number;
  created_at: Date;
  replayed_at: Date | null;
  replay_attempts: number;
  last_replay_error: string | null;
}

function fromRow(row: DeadLetterRow): DeadLetter {
  return {
    id: row.id,
    consumer: row.consumer,
    topic: row.topic,
    partition: row.partition,
    offset: String(row.offset),
    messageId: row.message_id,
    type: row.type,
    key: row.key,
    headers: row.headers,
    value: row.value,
    error: row.error,
    attempts: row.attempts,
    createdAt: row.created_at.toISOString(),
    replayedAt: row.replayed_at?.toISOString() ?? null,
    replayAttempts: row.replay_attempts,
    lastReplayError: row.last_replay_error,
  };
}

/** Dead letters, newest first (see {@link DeadLetterFilter}). */
export async function listDeadLetters(db: Queryable, filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
  const { rows } = await db.query<DeadLetterRow>(
    `SELECT * FROM dead_letters
      WHERE ($1::text IS NULL OR consumer = $1)
        AND ($2::text IS NULL OR ($2 = 'pending') = (replayed_at IS NULL))
      ORDER BY created_at DESC, id LIMIT $3`,
    [filter.consumer ?? null, filter.status ?? null, filter.limit ?? 100],
  );
  return rows.map(fromRow);
}

/** One dead letter, or undefined. */
export async function getDeadLetter(db: Queryable, id: string): Promise<DeadLetter | undefined> {
  const { rows } = await db.query<DeadLetterRow>('SELECT * FROM dead_letters WHERE id = $1', [id]);
  return rows[0] === undefined ? undefined : fromRow(rows[0]);
}

/** The dead letter of `consumer` with this id, locked for the replaying transaction. */
export async function loadDeadLetterForReplay(tx: PoolClient, id: string, consumer: string): Promise<DeadLetter | undefined> {
  const { rows } = await tx.query<DeadLetterRow>('SELECT * FROM dead_letters WHERE id = $1 AND consumer = $2 FOR UPDATE', [id, consumer]);
  return rows[0] === undefined ? undefined : fromRow(rows[0]);
}

/** What {@link writeDeadLetter} records. */
export interface DeadLetterInput {
  consumer: string;
  record: IncomingRecord;
  messageId: string | null;
  type: string | null;
  error: unknown;
  attempts: number;
}

/**
 * Records a dead letter on `tx`: a `dead_letters` row and, through the outbox, the original record
 * republished to `<topic>.dlq` with `dlq_error`, `dlq_topic`, `dlq_partition`, `dlq_offset`,
 * `dlq_consumer`, `dlq_attempts` and `dlq_dead_letter_id` headers added. A record already
 * dead-lettered by this consumer (redelivered before its offset was committed) is recorded once.
 */
export async function writeDeadLetter(tx: PoolClient, input: DeadLetterInput): Promise<void> {
  const { record } = input;
  const error = withoutNul(input.error instanceof Error ? `${input.error.name}: ${input.error.message}` : String(input.error));
  const headers = Object.fromEntries(Object.entries(record.headers).map(([name, value]) => [withoutNul(name), withoutNul(value)]));
  const key = record.key === null ? null : withoutNul(record.key);
  const value = record.value === null ? null : withoutNul(record.value);
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO dead_letters (consumer, topic, partition, "offset", message_id, type, key, headers, value, error, attempts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (consumer, topic, partition, "offset") DO NOTHING RETURNING id`,
    [input.consumer, record.topic, record.partition, record.offset, input.messageId, input.type === null ? null : withoutNul(input.type), key, headers, value, error, input.attempts],
  );
  const id = rows[0]?.id;
  if (id === undefined) return;
  const dlqHeaders = {
    ...headers,
    dlq_error: error,
    dlq_topic: record.topic,
    dlq_partition: String(record.partition),
    dlq_offset: record.offset,
    dlq_consumer: input.consumer,
    dlq_attempts: String(input.attempts),
    dlq_dead_letter_id: id,
  };
  await insertOutboxRow(tx, 'outbox_insert_dead_letter', `INSERT INTO outbox (id, topic, key, type, version, headers, raw_value) VALUES ($1, $2, $3, 'dead_letter', $4, $5, $6)`, [
    id,
    deadLetterTopic(record.topic),
    key,
    headers['version'] ?? '0',
    dlqHeaders,
    value ?? '',
  ]);
}

/**
 * Registers `dead_letters_pending{consumer}` (dead letters not replayed yet, read from the
 * database at scrape time) once per registry.
 */
export function registerDeadLetterGauge(registry: Registry, pool: Pool): void {
  if (registry.getSingleMetric('dead_letters_pending')) return;
  new Gauge({
    name: 'dead_letters_pending',
    help: 'Dead letters not replayed yet, by consumer group: messages that need an operator.',
    labelNames: ['consumer'],
    registers: [registry],
    async collect() {
      try {
        const { rows } = await pool.query<{ consumer: string; count: number }>(
          'SELECT consumer, count(*)::int AS count FROM dead_letters WHERE replayed_at IS NULL GROUP BY consumer',
        );
        this.reset();
        for (const row of rows) this.set({ consumer: row.consumer }, row.count);
      } catch {
        // The database is unreachable (or the pool closed during shutdown): keep the last values.
      }
    },
  });
}

/** PostgreSQL text cannot hold NUL characters; a foreign record with them must still be dead-lettered. */
function withoutNul(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD');
}
