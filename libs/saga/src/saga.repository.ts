import { sendInTransaction, type Queryable } from '@msr/service-defaults';
import type { QueryConfig } from 'pg';
import type { SagaDirection, SagaFailure } from './definition.js';
import type { SagaState, SagaStatus, StepLogChange, StepLogStatus } from './state-machine.js';

/** A saga instance as stored: its state plus identity, definition, optimistic-lock version and lease. */
export interface SagaRecord<Data = unknown> extends SagaState<Data> {
  id: string;
  definitionName: string;
  definitionVersion: number;
  /** Incremented by every transition; a transition applies only to the version it read. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  /** The orchestrator instance holding the lease, while one drives the saga. */
  owner: string | null;
  leaseUntil: Date | null;
  /** Set while the saga is parked (its definition or step is unknown to the instance that found it). */
  parkedAt: Date | null;
  parkedReason: string | null;
}

/** One row of a saga's step log, as `SagaOrchestrator.get` reports it. Times are RFC 3339. */
export interface SagaStepLogEntry {
  step: string;
  /** The action's name: the step's, or its compensation's (e.g. `release-inventory`). */
  action: string;
  direction: SagaDirection;
  status: StepLogStatus;
  attempts: number;
  startedAt: string;
  finishedAt: string | null;
  /** From the first attempt's start to the outcome, backoff and reply wait included, in ms. */
  durationMs: number | null;
  failureCode: string | null;
  lastError: string | null;
  commandMessageId: string | null;
  replyMessageId: string | null;
}

/**
 * What happened to a saga, one entry per event: `started`; per transition the step-log status it
 * led to (`retrying`, `awaiting_reply`, `succeeded`, `failed`, `exhausted`, `timed_out`); and
 * `reply_ignored`, `parked`, `unparked`, `retried`.
 */
export type TimelineEvent = StepLogStatus | 'started' | 'reply_ignored' | 'parked' | 'unparked' | 'retried';

/** One entry of a saga's timeline (table `saga_timeline`). Times are RFC 3339. */
export interface SagaTimelineEntry {
  at: string;
  event: TimelineEvent;
  step: string | null;
  action: string | null;
  direction: SagaDirection | null;
  attempt: number | null;
  /** The saga's status after the event. */
  status: SagaStatus;
  /** The command sent, or the reply received or ignored. */
  messageId: string | null;
  messageType: string | null;
  /** An error, a reason, or what was ignored and why. */
  detail: string | null;
  /** The orchestrator instance that recorded it. */
  owner: string | null;
}

/** A timeline entry to write with a transition; the saga id, time, status and owner come from the transition. */
export interface TimelineNote {
  event: TimelineEvent;
  messageId?: string | null;
  messageType?: string | null;
  detail?: string | null;
}

/**
 * One transition within a {@link TransitionWrite}: the step-log change it makes and its timeline
 * entry (the saga id, owner and status come from the write).
 */
export interface TransitionChange {
  log: StepLogChange;
  /** When the transition happened. */
  at: Date;
  /** When the step's first attempt in this direction started (for the step log's duration). */
  startedAt: Date;
  /** The saga's status right after this transition. */
  status: SagaStatus;
  timeline: TimelineNote;
}

/**
 * What one write of a saga records (see {@link SagaRepository.transition}): the state after one or
 * more transitions made in the same transaction (a reply and the local steps it led to, say), and
 * each transition's step-log change and timeline entry, in order.
 */
export interface TransitionWrite {
  id: string;
  expectedVersion: number;
  /** The state after the last change. */
  state: SagaState<unknown>;
  finished: boolean;
  /** When the last change happened (`updated_at`, and `finished_at` when finished). */
  now: Date;
  /** The lease after the transition: kept (owner and expiry) while the driver goes on, or released (nulls). */
  lease: { owner: string; until: Date } | null;
  /** At least one; no two for the same step and direction (one step-log row each). */
  changes: readonly TransitionChange[];
  /** The instance writing (recorded in the timeline even when the lease is released). */
  writer: string;
}

/** Filter of {@link SagaRepository.list}. */
export interface SagaListFilter {
  status?: SagaStatus;
  /** Definition name. */
  type?: string;
  /** Only sagas created before this time. */
  createdBefore?: Date;
  limit: number;
}

/**
 * A second transition raced this one: the saga's version moved on since it was read. The
 * transaction rolls back (with the step's local effects) and the saga is read again.
 */
export class SagaConcurrencyError extends Error {
  constructor(
    readonly sagaId: string,
    readonly expectedVersion: number,
  ) {
    super(`saga ${sagaId} is no longer at version ${expectedVersion}`);
    this.name = 'SagaConcurrencyError';
  }
}

/**
 * `error` as a {@link SagaConcurrencyError} when it is the database's report of a lost race, raised
 * by a transition's statement (`saga_version_conflict`, SQLSTATE 40001 on
 * `saga_instances.version`); any other error as it is. A transition sent without waiting reports
 * the race only when its transaction commits, so the code around the transaction calls this.
 */
export function sagaConflictOr(error: unknown, sagaId: string, expectedVersion: number): unknown {
  const { code, table, column } = (error ?? {}) as { code?: unknown; table?: unknown; column?: unknown };
  return code === '40001' && table === 'saga_instances' && column === 'version' ? new SagaConcurrencyError(sagaId, expectedVersion) : error;
}

interface SagaRow {
  id: string;
  definition_name: string;
  definition_version: number;
  status: SagaStatus;
  direction: SagaDirection;
  current_step: string | null;
  attempt: number;
  data: unknown;
  compensations: string[];
  awaiting_message_id: string | null;
  wake_at: Date | null;
  deadline_at: Date | null;
  failure_code: string | null;
  failure_reason: string | null;
  failure_step: string | null;
  generation: number;
  version: number;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  owner: string | null;
  lease_until: Date | null;
  parked_at: Date | null;
  parked_reason: string | null;
}

interface StepLogRow {
  saga_id: string;
  step: string;
  action: string;
  direction: SagaDirection;
  status: StepLogStatus;
  attempts: number;
  started_at: Date;
  finished_at: Date | null;
  duration_ms: number | null;
  failure_code: string | null;
  last_error: string | null;
  command_message_id: string | null;
  reply_message_id: string | null;
}

interface TimelineRow {
  saga_id: string;
  at: Date;
  event: TimelineEvent;
  step: string | null;
  action: string | null;
  direction: SagaDirection | null;
  attempt: number | null;
  status: SagaStatus;
  message_id: string | null;
  message_type: string | null;
  detail: string | null;
  owner: string | null;
}

const nonFinal = `('RUNNING', 'AWAITING_REPLY', 'COMPENSATING')`;

/** SQL access to `saga_instances`, `saga_step_log` and `saga_timeline` (see libs/saga/migrations). */
export class SagaRepository {
  /**
   * Inserts a new instance at version 1, leased to `owner` until `leaseUntil`, with its `started`
   * timeline entry. In a transaction it is sent without waiting ({@link sendInTransaction}): a
   * failure (e.g. a duplicate id) fails the COMMIT.
   */
  async insert(db: Queryable, record: SagaRecord, owner: string, leaseUntil: Date): Promise<void> {
    // Named: prepared once per connection, as this runs for every saga.
    await sendInTransaction(db, {
      name: 'saga_insert',
      text: `WITH inserted AS (
         INSERT INTO saga_instances (id, definition_name, definition_version, status, direction, current_step, attempt, data,
           compensations, awaiting_message_id, wake_at, failure_code, failure_reason, failure_step, deadline_at, generation,
           version, created_at, updated_at, finished_at, owner, lease_until)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
         RETURNING id, status, created_at)
       INSERT INTO saga_timeline (saga_id, at, event, status, owner, detail)
       SELECT id, created_at, 'started', status, $21::text, $23::text FROM inserted`,
      values: [
        record.id,
        record.definitionName,
        record.definitionVersion,
        ...stateColumns(record),
        record.version,
        record.createdAt,
        record.updatedAt,
        record.finishedAt,
        owner,
        leaseUntil,
        `${record.definitionName}@${record.definitionVersion}`,
      ],
    });
  }

  /** The instance with this id, if any. */
  async load(db: Queryable, id: string): Promise<SagaRecord | undefined> {
    const { rows } = await db.query<SagaRow>('SELECT * FROM saga_instances WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : fromRow(rows[0]);
  }

  /**
   * Takes (or renews) the lease of a saga that is due to be driven: not final, not parked, due at
   * `now`, and leased to nobody else (or the lease expired). Returns it, or undefined when it is
   * not claimable.
   */
  async claim(db: Queryable, id: string, owner: string, now: Date, leaseUntil: Date): Promise<SagaRecord | undefined> {
    const { rows } = await db.query<SagaRow>(
      `UPDATE saga_instances SET owner = $2, lease_until = $4
        WHERE id = $1 AND status IN ${nonFinal} AND parked_at IS NULL AND wake_at <= $3
          AND (owner IS NULL OR owner = $2 OR lease_until < $3)
        RETURNING *`,
      [id, owner, now, leaseUntil],
    );
    return rows[0] === undefined ? undefined : fromRow(rows[0]);
  }

  /**
   * The instance awaiting the reply to command `messageId`, locked for the caller's transaction
   * so that a reply and a deadline cannot both move it.
   */
  async lockAwaiting(tx: Queryable, messageId: string): Promise<SagaRecord | undefined> {
    const { rows } = await tx.query<SagaRow>({ name: 'saga_lock_awaiting', text: 'SELECT * FROM saga_instances WHERE awaiting_message_id = $1 FOR UPDATE', values: [messageId] });
    return rows[0] === undefined ? undefined : fromRow(rows[0]);
  }

  /** The committed version of an instance, or undefined when it does not exist (yet). */
  async version(db: Queryable, id: string): Promise<number | undefined> {
    const { rows } = await db.query<{ version: number }>('SELECT version FROM saga_instances WHERE id = $1', [id]);
    return rows[0]?.version;
  }

  /**
   * Writes transitions in a single statement: the new state if the instance is still at
   * `expectedVersion` (incrementing the version, setting or releasing the lease), then per change
   * the step-log row of (saga, step, direction) and a timeline entry, in order. The first
   * step-log write of a row sets `started_at`; later ones keep it, and a finished step gets
   * `finished_at` and its duration.
   *
   * In a transaction the statement goes out without waiting for its answer
   * ({@link sendInTransaction}): a lost race then fails the transaction's COMMIT with the
   * database's conflict error, which {@link sagaConflictOr} turns into a SagaConcurrencyError.
   *
   * @returns the new version.
   * @throws {SagaConcurrencyError} when another transition got there first (outside a transaction).
   * @throws {Error} when `changes` is empty or names a step and direction twice.
   */
  async transition(tx: Queryable, write: TransitionWrite): Promise<number> {
    const { state, changes } = write;
    if (changes.length === 0) throw new Error(`saga ${write.id}: a write needs at least one transition`);
    if (new Set(changes.map(({ log }) => `${log.step}\u0000${log.direction}`)).size !== changes.length) {
      throw new Error(`saga ${write.id}: one write cannot change a step's log twice in the same direction`);
    }
    // Named: prepared once per connection, as this runs for every transition of every saga.
    const statement: QueryConfig = {
      name: 'saga_transition',
      text: `WITH updated AS (
         UPDATE saga_instances SET status = $3, direction = $4, current_step = $5, attempt = $6, data = $7, compensations = $8,
           awaiting_message_id = $9, wake_at = $10, failure_code = $11, failure_reason = $12, failure_step = $13,
           deadline_at = $14, generation = $15, version = version + 1, updated_at = $16,
           finished_at = CASE WHEN $17::boolean THEN $16::timestamptz END, owner = $18, lease_until = $19
         WHERE id = $1 AND version = $2
         RETURNING id),
       changes AS (
         SELECT * FROM jsonb_to_recordset($20::jsonb) AS c(n integer, step text, action text, direction text, log_status text,
           attempts integer, started_at timestamptz, finished_at timestamptz, failure_code text, last_error text,
           command_message_id uuid, reply_message_id uuid, at timestamptz, event text, status text, message_id uuid,
           message_type text, detail text)),
       log AS (
         INSERT INTO saga_step_log AS log (saga_id, step, action, direction, status, attempts, started_at, finished_at, duration_ms,
           failure_code, last_error, command_message_id, reply_message_id, updated_at)
         SELECT u.id, c.step, c.action, c.direction, c.log_status, c.attempts, c.started_at, c.finished_at,
           CASE WHEN c.finished_at IS NULL THEN NULL ELSE round(extract(epoch FROM c.finished_at - c.started_at) * 1000)::integer END,
           c.failure_code, c.last_error, c.command_message_id, c.reply_message_id, c.at
         FROM updated u CROSS JOIN changes c
         ON CONFLICT (saga_id, step, direction) DO UPDATE SET
           status = EXCLUDED.status,
           attempts = EXCLUDED.attempts,
           finished_at = EXCLUDED.finished_at,
           duration_ms = CASE WHEN EXCLUDED.finished_at IS NULL THEN NULL
             ELSE round(extract(epoch FROM EXCLUDED.finished_at - log.started_at) * 1000)::integer END,
           failure_code = COALESCE(EXCLUDED.failure_code, log.failure_code),
           last_error = COALESCE(EXCLUDED.last_error, log.last_error),
           command_message_id = COALESCE(EXCLUDED.command_message_id, log.command_message_id),
           reply_message_id = COALESCE(EXCLUDED.reply_message_id, log.reply_message_id),
           updated_at = EXCLUDED.updated_at),
       timeline AS (
         INSERT INTO saga_timeline (saga_id, at, event, step, action, direction, attempt, status, message_id, message_type, detail, owner)
         SELECT u.id, c.at, c.event, c.step, c.action, c.direction, c.attempts, c.status, c.message_id, c.message_type, c.detail, $21::text
         FROM updated u CROSS JOIN changes c ORDER BY c.n)
       SELECT CASE WHEN EXISTS (SELECT FROM updated) THEN 1 ELSE saga_version_conflict($1, $2) END AS updated`,
      values: [
        write.id,
        write.expectedVersion,
        ...stateColumns(state),
        write.now,
        write.finished,
        write.lease?.owner ?? null,
        write.lease?.until ?? null,
        JSON.stringify(changes.map(changeRow)),
        write.writer,
      ],
    };
    try {
      await sendInTransaction(tx, statement);
    } catch (error) {
      throw sagaConflictOr(error, write.id, write.expectedVersion);
    }
    return write.expectedVersion + 1;
  }

  /** Extends the leases `owner` holds on these sagas to `until`. */
  async renewLeases(db: Queryable, owner: string, ids: readonly string[], until: Date): Promise<void> {
    await db.query('UPDATE saga_instances SET lease_until = $3 WHERE owner = $1 AND id = ANY($2::uuid[])', [owner, ids, until]);
  }

  /** Gives up every lease `owner` holds (on shutdown), so that other instances can take over at once. */
  async releaseLeases(db: Queryable, owner: string): Promise<number> {
    const { rowCount } = await db.query('UPDATE saga_instances SET owner = NULL, lease_until = NULL WHERE owner = $1', [owner]);
    return rowCount ?? 0;
  }

  /**
   * Ids of sagas that are not final, not parked, due at or before `dueBefore` and not leased at
   * `now` (free or expired), most overdue first.
   */
  async dueIds(db: Queryable, now: Date, dueBefore: Date, limit: number): Promise<string[]> {
    const { rows } = await db.query<{ id: string }>(
      `SELECT id FROM saga_instances
        WHERE status IN ${nonFinal} AND parked_at IS NULL AND wake_at <= $2 AND (lease_until IS NULL OR lease_until < $1)
        ORDER BY wake_at LIMIT $3`,
      [now, dueBefore, limit],
    );
    return rows.map((row) => row.id);
  }

  /** Parks a saga (an unknown definition or step): no instance drives it until it is unparked. */
  async park(db: Queryable, id: string, reason: string, now: Date, writer: string): Promise<void> {
    await db.query(
      `WITH parked AS (
         UPDATE saga_instances SET parked_at = $3, parked_reason = $2, owner = NULL, lease_until = NULL
          WHERE id = $1 AND parked_at IS NULL RETURNING id, status)
       INSERT INTO saga_timeline (saga_id, at, event, status, detail, owner) SELECT id, $3::timestamptz, 'parked', status, $2::text, $4::text FROM parked`,
      [id, reason, now, writer],
    );
  }

  /** Parked sagas with their definition and current step, oldest first. */
  async parked(db: Queryable, limit: number): Promise<Array<Pick<SagaRecord, 'id' | 'definitionName' | 'definitionVersion' | 'step' | 'direction'>>> {
    const { rows } = await db.query<SagaRow>('SELECT * FROM saga_instances WHERE parked_at IS NOT NULL ORDER BY parked_at LIMIT $1', [limit]);
    return rows.map(fromRow);
  }

  /** Lets a parked saga run again (its wake-up time is kept). */
  async unpark(db: Queryable, id: string, now: Date, writer: string): Promise<boolean> {
    const { rowCount } = await db.query(
      `WITH unparked AS (
         UPDATE saga_instances SET parked_at = NULL, parked_reason = NULL WHERE id = $1 AND parked_at IS NOT NULL RETURNING id, status)
       INSERT INTO saga_timeline (saga_id, at, event, status, owner) SELECT id, $2::timestamptz, 'unparked', status, $3::text FROM unparked`,
      [id, now, writer],
    );
    return rowCount === 1;
  }

  /** Records in the saga's timeline a reply that was ignored (when `sagaId` names a saga). */
  async recordIgnoredReply(db: Queryable, sagaId: string, note: Omit<TimelineNote, 'event'>, now: Date, writer: string): Promise<void> {
    await db.query(
      `INSERT INTO saga_timeline (saga_id, at, event, status, message_id, message_type, detail, owner)
       SELECT id, $2::timestamptz, 'reply_ignored', status, $3::uuid, $4::text, $5::text, $6::text FROM saga_instances WHERE id = $1::uuid`,
      [sagaId, now, note.messageId ?? null, note.messageType ?? null, note.detail ?? null, writer],
    );
  }

  /** The instances with these ids. */
  async loadMany(db: Queryable, ids: readonly string[]): Promise<SagaRecord[]> {
    const { rows } = await db.query<SagaRow>('SELECT * FROM saga_instances WHERE id = ANY($1::uuid[])', [ids]);
    return rows.map(fromRow);
  }

  /** Instances matching the filter, oldest first. */
  async list(db: Queryable, filter: SagaListFilter): Promise<SagaRecord[]> {
    const { rows } = await db.query<SagaRow>(
      `SELECT * FROM saga_instances
        WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR definition_name = $2) AND ($3::timestamptz IS NULL OR created_at < $3)
        ORDER BY created_at, id LIMIT $4`,
      [filter.status ?? null, filter.type ?? null, filter.createdBefore ?? null, filter.limit],
    );
    return rows.map(fromRow);
  }

  /** Step logs of these sagas, each in the order its steps started. */
  async stepLogs(db: Queryable, sagaIds: readonly string[]): Promise<Map<string, SagaStepLogEntry[]>> {
    const { rows } = await db.query<StepLogRow>(
      `SELECT * FROM saga_step_log WHERE saga_id = ANY($1::uuid[]) ORDER BY started_at, seq`,
      [sagaIds],
    );
    const logs = new Map<string, SagaStepLogEntry[]>(sagaIds.map((id) => [id, []]));
    for (const row of rows) {
      logs.get(row.saga_id)?.push({
        step: row.step,
        action: row.action,
        direction: row.direction,
        status: row.status,
        attempts: row.attempts,
        startedAt: row.started_at.toISOString(),
        finishedAt: row.finished_at?.toISOString() ?? null,
        durationMs: row.duration_ms,
        failureCode: row.failure_code,
        lastError: row.last_error,
        commandMessageId: row.command_message_id,
        replyMessageId: row.reply_message_id,
      });
    }
    return logs;
  }

  /** Timelines of these sagas, each in order. */
  async timelines(db: Queryable, sagaIds: readonly string[]): Promise<Map<string, SagaTimelineEntry[]>> {
    const { rows } = await db.query<TimelineRow>('SELECT * FROM saga_timeline WHERE saga_id = ANY($1::uuid[]) ORDER BY seq', [sagaIds]);
    const timelines = new Map<string, SagaTimelineEntry[]>(sagaIds.map((id) => [id, []]));
    for (const row of rows) {
      timelines.get(row.saga_id)?.push({
        at: row.at.toISOString(),
        event: row.event,
        step: row.step,
        action: row.action,
        direction: row.direction,
        attempt: row.attempt,
        status: row.status,
        messageId: row.message_id,
        messageType: row.message_type,
        detail: row.detail,
        owner: row.owner,
      });
    }
    return timelines;
  }

  /** How many sagas there are per definition and status (for the `saga_instances` gauge). */
  async countByStatus(db: Queryable): Promise<Array<{ saga: string; status: SagaStatus; count: number }>> {
    const { rows } = await db.query<{ saga: string; status: SagaStatus; count: number }>(
      'SELECT definition_name AS saga, status, count(*)::int AS count FROM saga_instances GROUP BY definition_name, status',
    );
    return rows;
  }

  /** Sagas per definition that are parked, or not final and unchanged since `staleBefore`. */
  async countStuck(db: Queryable, staleBefore: Date): Promise<Array<{ saga: string; count: number }>> {
    const { rows } = await db.query<{ saga: string; count: number }>(
      `SELECT definition_name AS saga, count(*)::int AS count FROM saga_instances
        WHERE parked_at IS NOT NULL OR (status IN ${nonFinal} AND updated_at < $1)
        GROUP BY definition_name`,
      [staleBefore],
    );
    return rows;
  }
}

/** A change as one element of the transition statement's `jsonb` array (timestamps in RFC 3339). */
function changeRow({ log, at, startedAt, status, timeline }: TransitionChange, n: number) {
  return {
    n,
    step: log.step,
    action: log.action,
    direction: log.direction,
    log_status: log.status,
    attempts: log.attempts,
    started_at: startedAt.toISOString(),
    finished_at: log.finished ? at.toISOString() : null,
    failure_code: log.failureCode ?? null,
    last_error: log.error ?? null,
    command_message_id: log.commandMessageId ?? null,
    reply_message_id: log.replyMessageId ?? null,
    at: at.toISOString(),
    event: timeline.event,
    status,
    message_id: timeline.messageId ?? null,
    message_type: timeline.messageType ?? null,
    detail: timeline.detail ?? null,
  };
}

function stateColumns(state: SagaState<unknown>): unknown[] {
  return [
    state.status,
    state.direction,
    state.step,
    state.attempt,
    JSON.stringify(state.data),
    state.compensations,
    state.awaitingMessageId,
    state.wakeAt,
    state.failure?.code ?? null,
    state.failure?.reason ?? null,
    state.failure?.step ?? null,
    state.deadlineAt,
    state.generation,
  ];
}

function fromRow(row: SagaRow): SagaRecord {
  const failure: SagaFailure | null =
    row.failure_code === null ? null : { code: row.failure_code, reason: row.failure_reason ?? '', step: row.failure_step ?? '' };
  return {
    id: row.id,
    definitionName: row.definition_name,
    definitionVersion: row.definition_version,
    status: row.status,
    direction: row.direction,
    step: row.current_step,
    attempt: row.attempt,
    data: row.data,
    compensations: row.compensations,
    awaitingMessageId: row.awaiting_message_id,
    wakeAt: row.wake_at,
    deadlineAt: row.deadline_at,
    failure,
    generation: row.generation,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
    owner: row.owner,
    leaseUntil: row.lease_until,
    parkedAt: row.parked_at,
    parkedReason: row.parked_reason,
  };
}
