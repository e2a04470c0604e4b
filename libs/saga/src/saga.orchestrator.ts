import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { enqueueMessage, PoisonMessageError, withAsyncCommit, withOutboxTransaction, type MessageEnvelope } from '@msr/events';
import { runWithLogContext, sendInTransaction, withTransaction, type Logger, type Queryable } from '@msr/service-defaults';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import { commandMessageId } from './command-id.js';
import {
  validateDefinition,
  type ActionResult,
  type CommandAction,
  type LocalAction,
  type RemoteAction,
  type SagaAction,
  type SagaDefinition,
  type SagaStep,
  type StepContext,
} from './definition.js';
import { NonRetryableError, SagaNotFoundError, SagaNotRetryableError, StepTimeoutError } from './errors.js';
import { SagaMetrics } from './saga.metrics.js';
import {
  SagaConcurrencyError,
  sagaConflictOr,
  SagaRepository,
  type SagaRecord,
  type SagaStepLogEntry,
  type SagaTimelineEntry,
  type TimelineNote,
} from './saga.repository.js';
import { defaultRetryPolicy, validateRetryPolicy, type RetryPolicy } from './retry-policy.js';
import {
  currentAction,
  deadlineExceeded,
  finalStatuses,
  initialState,
  operatorRetry,
  transition,
  type SagaEvent,
  type SagaState,
  type SagaStatus,
  type StepLogChange,
  type Transition,
} from './state-machine.js';

// The orchestrator runs definitions of any data shape side by side; each instance's data is
// typed by its own definition, which the orchestrator looks up by name and version at run time.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDefinition = SagaDefinition<any>;

/** What a {@link SagaOrchestrator} needs. */
export interface SagaOrchestratorOptions {
  /** The pool of the database holding `saga_instances` and the outbox (see `sagaMigrations`). */
  pool: pg.Pool;
  logger: Logger;
  /** Every definition (name and version) this process can run. */
  definitions: readonly AnyDefinition[];
  /** The topic participants reply to; stamped as `reply_to` on every command. */
  replyTopic: string;
  /** Retry policy of actions that have none; {@link defaultRetryPolicy} by default. */
  defaultRetry?: RetryPolicy;
  /** Where to register the saga metrics (see `SagaMetrics`). */
  metricsRegistry?: Registry;
  /**
   * How long past its due time a saga must be before the periodic recovery takes it, in ms
   * (default 1000): the instance that made it due normally drives it at once, and recovery is for
   * sagas whose driver crashed. Leases keep two instances apart either way.
   */
  recoveryGraceMs?: number;
  /**
   * How long a driver's lease on a saga lasts, in ms (default 5000). Renewed every third of it
   * while the saga is driven, released when the saga waits or ends; a crashed instance's sagas
   * are taken over by another instance's recovery once their leases expire.
   */
  leaseMs?: number;
  /** Names this orchestrator in leases and timelines; default `<host>-<pid>-<random>`. */
  instanceId?: string;
  /** A saga not final and unchanged for this long counts in `saga_stuck`, in ms (default 60000). */
  stuckAfterMs?: number;
  /** [0, 1) source for backoff jitter; `Math.random` by default. */
  random?: () => number;
}

/** A saga instance without its step log and timeline. Times are RFC 3339. */
export interface SagaSummary {
  id: string;
  definitionName: string;
  definitionVersion: number;
  status: SagaStatus;
  direction: SagaState<unknown>['direction'];
  currentStep: string | null;
  attempt: number;
  data: unknown;
  failure: SagaState<unknown>['failure'];
  awaitingMessageId: string | null;
  wakeAt: string | null;
  deadlineAt: string | null;
  /** Operator retries so far. */
  generation: number;
  /** The instance driving it now (a lease until `leaseUntil`), if any. */
  owner: string | null;
  leaseUntil: string | null;
  parkedAt: string | null;
  parkedReason: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

/** A saga instance with its step log (one row per step and direction) and timeline (every event). */
export interface SagaView extends SagaSummary {
  steps: SagaStepLogEntry[];
  timeline: SagaTimelineEntry[];
}

/** Filter of {@link SagaOrchestrator.list}. */
export interface SagaQuery {
  status?: SagaStatus;
  /** Definition name, e.g. `place-order`. */
  type?: string;
  /** Only sagas started more than this long ago, in ms. */
  olderThanMs?: number;
  /** Most sagas returned, oldest first; default 100. */
  limit?: number;
}

/** What {@link SagaOrchestrator.handleReply} did with a reply. */
export type ReplyOutcome = { outcome: 'applied'; sagaId: string; status: SagaStatus } | { outcome: 'ignored'; reason: 'not_awaited' };

/**
 * How a caller whose transaction creates or moves a saga lets the orchestrator drive it as soon as
 * that transaction commits (instead of polling for the commit): `afterCommit` registers a callback
 * the caller runs after its commit, e.g. `InboxContext.afterCommit`.
 */
export interface CommitHook {
  afterCommit?: (callback: () => void) => void;
}

/** A transition of a unit of work, made in memory and not yet written. */
interface PendingTransition {
  next: Transition<unknown>;
  timeline: TimelineNote;
  at: Date;
  startedAt: Date;
}

/**
 * A unit of work on one saga: the transitions made in one transaction (a reply or an action's
 * outcome, then the local steps and commands it led to), written together as one saga write.
 */
class Unit {
  readonly transitions: PendingTransition[] = [];

  constructor(
    readonly definition: AnyDefinition,
    /** The saga as committed when the unit began (its version is the one the write expects). */
    readonly saga: SagaRecord,
  ) {}

  /** The state after the last transition (the saga's own before the first). */
  get state(): SagaState<unknown> {
    return this.transitions.at(-1)?.next.state ?? this.saga;
  }

  /** Whether a transition of this unit already changed the step log of `step` in `direction`. */
  touches(step: string, direction: SagaState<unknown>['direction']): boolean {
    return this.transitions.some(({ next }) => next.log.step === step && next.log.direction === direction);
  }
}

/** A transition as written: the new state and version, and the record as this instance now knows it. */
interface Applied {
  state: SagaState<unknown>;
  version: number;
  record: SagaRecord;
  /** This instance goes straight on with the saga (it keeps the lease): the next step is due now. */
  continues: boolean;
}

/**
 * The saga orchestrator (SYSTEM.md, "The PlaceOrder saga"; seed 002's `Saga.Execute` made durable):
 * runs saga instances step by step, persisting every transition in PostgreSQL, and compensates
 * completed steps in reverse when one fails for a business reason or runs out of retries.
 *
 * Guarantees:
 * - one transaction per transition: the state update (guarded by the instance's version), the
 *   step-log row, the timeline entry, a local step's own writes and a command's outbox row commit
 *   together (and, for a reply, the inbox row of the reply);
 * - transitions chain within a transaction (as Eventuate Tram Sagas does with a reply and the
 *   local steps after it): while the saga stays due and its next action is a local step or a
 *   command, that action runs in the same transaction, and the unit is written as one saga update
 *   with a step-log row and timeline entry per transition. A remote call ends the unit (no
 *   transaction is held open across one). A local step that fails in a transaction holding other
 *   writes runs under a savepoint, so that only its own writes are undone;
 * - commands carry a deterministic id (saga, step, direction, operator-retry generation); a reply
 *   is accepted only if its causation id is the awaited command id, so late, duplicated and
 *   reordered replies are ignored (logged, counted and kept in the timeline);
 * - retries, reply deadlines and the saga deadline are durable timers (`wake_at`): a restarted
 *   process, or another instance, picks them up with {@link resume};
 * - one driver per saga across instances: driving takes a lease (`owner`, `lease_until`) that is
 *   renewed while it runs and released when the saga waits or ends;
 * - a saga whose definition version or step this process does not know is parked, never mis-run,
 *   and resumed by an instance that knows it;
 * - a compensation that keeps failing parks the saga `COMPENSATION_FAILED` with an error log and
 *   metric; {@link retry} runs it again once the cause is fixed;
 * - log lines carry `saga_id`.
 *
 * Steps must be idempotent: after a crash the current step runs again.
 */
export class SagaOrchestrator {
  private readonly pool: pg.Pool;
  private readonly logger: Logger;
  private readonly definitions = new Map<string, AnyDefinition>();
  private readonly repository = new SagaRepository();
  private readonly metrics: SagaMetrics | undefined;
  private readonly replyTopic: string;
  private readonly defaultRetry: RetryPolicy;
  private readonly recoveryGraceMs: number;
  private readonly leaseMs: number;
  private readonly random: () => number;
  /** This orchestrator's name in leases and timelines. */
  readonly instanceId: string;
  private readonly driving = new Set<string>();
  private readonly driveAgain = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly leaseTimer: NodeJS.Timeout;
  private recoveryTimer: NodeJS.Timeout | undefined;
  private recovering: Promise<number> | undefined;
  private stopping = false;

  /** @throws {SagaDefinitionError} when a definition is invalid or two share a name and version. */
  constructor(options: SagaOrchestratorOptions) {
    this.pool = options.pool;
    this.logger = options.logger;
    this.replyTopic = options.replyTopic;
    this.defaultRetry = validateRetryPolicy(options.defaultRetry ?? defaultRetryPolicy);
    this.recoveryGraceMs = options.recoveryGraceMs ?? 1_000;
    this.leaseMs = options.leaseMs ?? 5_000;
    this.random = options.random ?? Math.random;
    this.instanceId = options.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.metrics =
      options.metricsRegistry === undefined
        ? undefined
        : new SagaMetrics(options.metricsRegistry, { db: this.pool, repository: this.repository, stuckAfterMs: options.stuckAfterMs ?? 60_000 });
    for (const definition of options.definitions) {
      validateDefinition(definition);
      const key = definitionKey(definition.name, definition.version);
      if (this.definitions.has(key)) throw new Error(`saga definition ${key} is registered twice`);
      this.definitions.set(key, definition);
    }
    this.leaseTimer = setInterval(() => this.renewLeases(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.leaseTimer.unref();
  }

  /**
   * Creates a saga instance at its first step. With `tx`, the instance commits with the caller's
   * transaction (e.g. with the order it is for) and runs once that commit is visible: right after
   * it when the caller passes `hook.afterCommit`, else once a poll sees it. Without `tx` it runs
   * at once. Resolves when the instance is written.
   *
   * @param sagaId - a UUID chosen by the caller.
   * @param data - JSON-serialisable; persisted as `jsonb`.
   * @throws when the definition is not registered, or the insert fails (e.g. a duplicate id; in
   *   `tx`, that failure fails its COMMIT instead).
   */
  async start<Data>(tx: Queryable | undefined, definition: SagaDefinition<Data>, sagaId: string, data: Data, hook: CommitHook = {}): Promise<void> {
    const key = definitionKey(definition.name, definition.version);
    if (!this.definitions.has(key)) throw new Error(`saga definition ${key} is not registered with this orchestrator`);
    const now = new Date();
    const record: SagaRecord<Data> = {
      id: sagaId,
      definitionName: definition.name,
      definitionVersion: definition.version,
      ...initialState(definition, data, now),
      version: 1,
      createdAt: now,
      updatedAt: now,
      finishedAt: null,
      owner: this.instanceId,
      leaseUntil: this.leaseEnd(now),
      parkedAt: null,
      parkedReason: null,
    };
    // Leased from the start: no other instance's recovery takes it before this one drives it.
    await this.repository.insert(tx ?? this.pool, record, this.instanceId, this.leaseEnd(now));
    this.metrics?.recordStart(definition.name);
    runWithLogContext({ saga_id: sagaId }, () => this.logger.info({ saga: key }, 'saga started'));
    this.driveAfter(tx === undefined ? undefined : hook, record as SagaRecord);
  }

  /**
   * Applies a reply (an InboxConsumer handler calls this inside its transaction, so the reply's
   * inbox row and the saga transition commit together). The saga awaiting the reply's
   * `causation_id` moves on per its step's `onReply`; a reply no saga awaits (late, duplicated,
   * reordered after a timeout) is ignored, logged and recorded in that saga's timeline. Pass
   * `hook.afterCommit` (the inbox's) to drive the saga on right after the commit.
   *
   * A race with another transition (rare: the saga's row is locked here) fails the caller's
   * COMMIT with the database's conflict error instead (the inbox retries the reply).
   * @throws {PoisonMessageError} when the saga's definition or step is unknown here: the saga is
   * parked and the reply dead-lettered, to be replayed by an instance that knows it.
   */
  async handleReply(reply: MessageEnvelope, tx: pg.PoolClient, hook: CommitHook = {}): Promise<ReplyOutcome> {
    return runWithLogContext({ saga_id: reply.correlation_id }, async () => {
      const saga = reply.causation_id === null ? undefined : await this.repository.lockAwaiting(tx, reply.causation_id);
      if (saga === undefined) {
        this.logger.warn({ message_id: reply.id, type: reply.type, causation_id: reply.causation_id }, 'reply ignored: no saga awaits it');
        this.metrics?.recordIgnoredReply('not_awaited');
        if (uuidPattern.test(reply.correlation_id)) {
          const detail = `answers ${reply.causation_id ?? 'nothing'}, which no step awaits (late, duplicated or reordered)`;
          await this.repository.recordIgnoredReply(tx, reply.correlation_id, { messageId: reply.id, messageType: reply.type, detail }, new Date(), this.instanceId);
        }
        return { outcome: 'ignored', reason: 'not_awaited' } as const;
      }
      return runWithLogContext({ saga_id: saga.id }, async () => {
        const definition = this.definitions.get(definitionKey(saga.definitionName, saga.definitionVersion));
        const problem = definition === undefined ? unknownDefinition(saga) : unknownStep(definition, saga);
        if (definition === undefined || problem !== undefined) {
          // This transaction holds the saga's row lock; the parking waits for its rollback.
          this.track(this.park(saga.id, problem ?? unknownDefinition(saga)));
          throw new PoisonMessageError(`saga ${saga.id}: ${problem ?? unknownDefinition(saga)}`);
        }
        const { action } = currentAction(definition, saga);
        const result = (action as CommandAction<unknown>).onReply(reply, this.context(saga.id, saga.data, saga.attempt));
        const replied = { replyMessageId: reply.id, replyType: reply.type };
        const event: SagaEvent<unknown> =
          result.status === 'succeeded'
            ? { type: 'succeeded', attempt: saga.attempt, ...(result.data === undefined ? {} : { data: result.data }), ...replied }
            : { type: 'failed', attempt: saga.attempt, code: result.code, reason: result.reason, ...replied };
        const unit = new Unit(definition, saga);
        this.make(unit, event, saga.updatedAt);
        // The inbox row is already written in this transaction: each local step runs under a savepoint.
        await this.runActions(tx, unit, true);
        const applied = await this.writeUnit(tx, unit);
        // Once this commits, the reply deadline's timer is moot; a saga that now waits gets its next
        // timer (a retry's backoff, the deadline of a command sent in this unit) instead.
        // Not before: a retry due at once would fire, find the saga not yet committed and give up.
        if (applied.continues) this.driveAfter(hook, applied.record);
        else
          this.onceCommitted(hook, applied.record, () => {
            this.unschedule(saga.id);
            this.scheduleWait(saga.id, applied);
          });
        return { outcome: 'applied', sagaId: saga.id, status: applied.state.status } as const;
      });
    });
  }

  /**
   * Recovery: unparks parked sagas this process knows how to run, then drives every saga that is
   * not final, due for more than `graceMs` (a step to run or retry, a reply deadline or the saga
   * deadline passed) and not leased by a live instance, e.g. after this process or another
   * instance crashed. Sagas waiting for a reply without deadline keep waiting.
   *
   * @param options.graceMs - overrides `recoveryGraceMs`; 0 takes every due saga (at start-up).
   * @param options.limit - at most this many sagas per call (default 100); the periodic
   * recovery takes the rest on its next round.
   * @returns how many sagas it drove.
   */
  async resume(options: { graceMs?: number; limit?: number } = {}): Promise<number> {
    if (this.stopping) return 0;
    await this.unparkKnown();
    const now = new Date();
    const dueBefore = new Date(now.getTime() - (options.graceMs ?? this.recoveryGraceMs));
    const ids = (await this.repository.dueIds(this.pool, now, dueBefore, options.limit ?? 100)).filter((id) => !this.driving.has(id));
    if (ids.length === 0) return 0;
    this.logger.info({ sagas: ids.length }, 'resuming due sagas');
    // Tracked, so that stop() waits for them; failures are logged there.
    const drives = ids.map((id) => this.drive(id));
    for (const drive of drives) this.track(drive);
    await Promise.allSettled(drives);
    return ids.length;
  }

  /** Runs {@link resume} every `intervalMs` until {@link stop}; failures are logged. */
  startRecovery(intervalMs: number): void {
    this.recoveryTimer ??= setInterval(() => {
      if (this.recovering !== undefined) return;
      this.recovering = this.resume()
        .catch((error: unknown) => {
          this.logger.error({ err: error }, 'saga recovery failed');
          return 0;
        })
        .finally(() => {
          this.recovering = undefined;
        });
      this.track(this.recovering);
    }, intervalMs).unref();
  }

  /**
   * An operator's retry of a parked saga (after fixing what made it fail): a
   * `COMPENSATION_FAILED` saga compensates its current step again and goes on compensating; a
   * `FAILED` one runs its retriable step again. Commands get a new id (a new generation).
   *
   * @returns the saga's status after the retry was recorded (`COMPENSATING` or `RUNNING`); it is
   * driven right after.
   * @throws {SagaNotFoundError} when there is no such saga.
   * @throws {SagaNotRetryableError} when it is not `COMPENSATION_FAILED` or `FAILED`, or its
   * definition is unknown here.
   */
  async retry(sagaId: string): Promise<SagaStatus> {
    return runWithLogContext({ saga_id: sagaId }, async () => {
      const applied = await withOutboxTransaction(this.pool, async (tx) => {
        const { rows } = await tx.query<{ id: string }>('SELECT id FROM saga_instances WHERE id = $1 FOR UPDATE', [sagaId]);
        if (rows.length === 0) throw new SagaNotFoundError(sagaId);
        const saga = (await this.repository.load(tx, sagaId))!;
        if (saga.status !== 'COMPENSATION_FAILED' && saga.status !== 'FAILED') throw new SagaNotRetryableError(sagaId, `it is ${saga.status}; only COMPENSATION_FAILED and FAILED sagas are retried`);
        const definition = this.definitions.get(definitionKey(saga.definitionName, saga.definitionVersion));
        if (definition === undefined) throw new SagaNotRetryableError(sagaId, unknownDefinition(saga));
        const now = new Date();
        const unit = new Unit(definition, saga);
        unit.transitions.push({ next: operatorRetry(definition, saga, now), timeline: { event: 'retried', detail: 'retried by an operator' }, at: now, startedAt: saga.updatedAt });
        return this.write(tx, unit);
      });
      this.logger.warn({ status: applied.state.status, step: applied.state.step, generation: applied.state.generation }, 'saga retried by an operator');
      this.kick(sagaId, applied.record);
      return applied.state.status;
    });
  }

  /** The saga with its step log and timeline, or undefined when there is none with this id. */
  async get(sagaId: string): Promise<SagaView | undefined> {
    return (await this.getMany([sagaId])).get(sagaId);
  }

  /** Several sagas with their step logs and timelines, by id; ids without a saga are absent from the map. */
  async getMany(sagaIds: readonly string[]): Promise<Map<string, SagaView>> {
    if (sagaIds.length === 0) return new Map();
    // One snapshot for the three reads: a saga committed COMPLETED between them would otherwise
    // show without the step that completed it.
    const [records, logs, timelines] = await withTransaction(
      this.pool,
      async (tx) => [await this.repository.loadMany(tx, sagaIds), await this.repository.stepLogs(tx, sagaIds), await this.repository.timelines(tx, sagaIds)] as const,
      { snapshot: true },
    );
    return new Map(records.map((record) => [record.id, { ...toSummary(record), steps: logs.get(record.id) ?? [], timeline: timelines.get(record.id) ?? [] }]));
  }

  /** Sagas matching `query`, oldest first, without step logs and timelines. */
  async list(query: SagaQuery = {}): Promise<SagaSummary[]> {
    const records = await this.repository.list(this.pool, {
      limit: query.limit ?? 100,
      ...(query.status === undefined ? {} : { status: query.status }),
      ...(query.type === undefined ? {} : { type: query.type }),
      ...(query.olderThanMs === undefined ? {} : { createdBefore: new Date(Date.now() - query.olderThanMs) }),
    });
    return records.map(toSummary);
  }

  /**
   * Stops timers and recovery, waits for steps in flight to finish, and releases this instance's
   * leases so another instance can take its sagas over at once. Call before closing the pool.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.recoveryTimer);
    clearInterval(this.leaseTimer);
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    const released = await this.repository.releaseLeases(this.pool, this.instanceId).catch((error: unknown) => {
      this.logger.warn({ err: error }, 'could not release saga leases; they expire on their own');
      return 0;
    });
    if (released > 0) this.logger.info({ sagas: released }, 'saga leases released');
  }

  /** Drives the saga in the background; `known` is its committed record when the caller has it (no need to read it back). */
  private kick(sagaId: string, known?: SagaRecord): void {
    if (this.stopping) return;
    this.track(this.drive(sagaId, known));
  }

  /**
   * Drives the saga once the caller's transaction has committed `record`: right after the commit
   * when the caller has a commit hook; otherwise wait (briefly, with a deadline) until its version
   * is visible. A rolled-back transaction never becomes visible; there is then nothing to drive.
   * `hook` undefined: there is no caller transaction, drive now.
   */
  private driveAfter(hook: CommitHook | undefined, record: SagaRecord): void {
    if (hook === undefined) return this.kick(record.id, record);
    this.onceCommitted(hook, record, (known) => this.kick(record.id, known));
  }

  /**
   * Calls `then` once the caller's transaction has committed `record`: from `hook.afterCommit`
   * when there is one; otherwise once its version is visible (polled briefly, with a deadline),
   * never for a transaction that rolled back. `then` gets the record when it is still the
   * committed one, undefined when the saga has moved on since.
   */
  private onceCommitted(hook: CommitHook, record: SagaRecord, then: (known: SagaRecord | undefined) => void): void {
    if (hook.afterCommit !== undefined) return hook.afterCommit(() => then(record));
    const task = async () => {
      const deadline = Date.now() + 10_000;
      for (let delayMs = 2; Date.now() < deadline && !this.stopping; delayMs = Math.min(delayMs * 2, 100)) {
        const committed = await this.repository.version(this.pool, record.id);
        if (committed !== undefined && committed >= record.version) return then(committed === record.version ? record : undefined);
        await sleep(delayMs);
      }
    };
    this.track(task());
  }

  private track(task: Promise<unknown>): void {
    const tracked = task.catch((error: unknown) => this.logger.error({ err: error }, 'saga driver failed'));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  /**
   * Runs the saga until it is final, waits for a reply, or waits for a timer. One driver per saga
   * in this process. `known`: the saga's committed record, leased to this instance and due, when
   * the caller has it; otherwise the driver claims the saga first.
   */
  private async drive(sagaId: string, known?: SagaRecord): Promise<void> {
    if (this.driving.has(sagaId)) {
      this.driveAgain.add(sagaId);
      return;
    }
    this.driving.add(sagaId);
    try {
      await runWithLogContext({ saga_id: sagaId }, async () => {
        let first: SagaRecord | undefined = known;
        do {
          this.driveAgain.delete(sagaId);
          await this.driveOnce(sagaId, first);
          first = undefined;
        } while (this.driveAgain.has(sagaId) && !this.stopping);
      });
    } finally {
      this.driving.delete(sagaId);
    }
  }

  private async driveOnce(sagaId: string, known: SagaRecord | undefined): Promise<void> {
    // While a transition leaves the saga due and leased to this instance, the driver goes on with
    // the record it wrote: no claim and no read between steps.
    let saga = known;
    while (!this.stopping) {
      const now = new Date();
      saga ??= await this.claim(sagaId, now);
      if (saga === undefined) return this.scheduleWake(sagaId);
      const definition = await this.runnable(saga);
      if (definition === undefined) return;
      let applied: Applied;
      try {
        if (deadlineExceeded(definition, saga, now)) applied = await this.applyAndRun(definition, saga, { type: 'deadline_exceeded' }, saga.updatedAt);
        else if (saga.status === 'AWAITING_REPLY') applied = await this.applyAndRun(definition, saga, { type: 'timed_out' }, saga.updatedAt);
        else applied = await this.attempt(definition, saga);
      } catch (error) {
        if (!(error instanceof SagaConcurrencyError)) throw error;
        this.logger.debug({ version: saga.version }, 'saga moved on concurrently; reloading');
        saga = undefined;
        continue;
      }
      if (applied.continues) {
        saga = applied.record;
        continue;
      }
      this.scheduleWait(sagaId, applied);
      return;
    }
  }

  /** Takes the lease of a due saga (without waiting for the disk: a lost lease only costs a takeover). */
  private claim(sagaId: string, now: Date): Promise<SagaRecord | undefined> {
    return withAsyncCommit(this.pool, (client) => this.repository.claim(client, sagaId, this.instanceId, now, this.leaseEnd(now)));
  }

  /** After a failed claim: if the saga waits for a timer, schedule it (another instance may drive it meanwhile). */
  private async scheduleWake(sagaId: string): Promise<void> {
    const saga = await this.repository.load(this.pool, sagaId);
    if (saga === undefined || finalStatuses.has(saga.status) || saga.parkedAt !== null || saga.wakeAt === null) return;
    const leasedElsewhere = saga.owner !== null && saga.owner !== this.instanceId && saga.leaseUntil !== null && saga.leaseUntil.getTime() > Date.now();
    if (saga.wakeAt.getTime() > Date.now()) this.schedule(sagaId, saga.wakeAt.getTime());
    else if (!leasedElsewhere) this.driveAgain.add(sagaId);
  }

  /** The saga's definition when this process can run it; otherwise parks it and returns undefined. */
  private async runnable(saga: SagaRecord): Promise<AnyDefinition | undefined> {
    const definition = this.definitions.get(definitionKey(saga.definitionName, saga.definitionVersion));
    const problem = definition === undefined ? unknownDefinition(saga) : unknownStep(definition, saga);
    if (problem === undefined) return definition;
    await this.park(saga.id, problem);
    return undefined;
  }

  private async park(sagaId: string, reason: string): Promise<void> {
    await this.repository.park(this.pool, sagaId, reason, new Date(), this.instanceId);
    runWithLogContext({ saga_id: sagaId }, () => this.logger.error({ reason }, 'saga parked: this process cannot run it; an instance that knows its definition resumes it'));
  }

  private async unparkKnown(): Promise<void> {
    for (const saga of await this.repository.parked(this.pool, 100)) {
      const definition = this.definitions.get(definitionKey(saga.definitionName, saga.definitionVersion));
      if (definition === undefined || unknownStep(definition, saga) !== undefined) continue;
      if (await this.repository.unpark(this.pool, saga.id, new Date(), this.instanceId)) {
        runWithLogContext({ saga_id: saga.id }, () => this.logger.info({ saga: definitionKey(saga.definitionName, saga.definitionVersion) }, 'saga unparked'));
      }
    }
  }

  /**
   * Makes one attempt at the current action and records its outcome. A local step or command runs
   * in a transaction that goes on with the actions after it ({@link runActions}); a remote call
   * runs outside any transaction, and its outcome is then recorded ({@link applyAndRun}).
   */
  private async attempt(definition: AnyDefinition, saga: SagaRecord): Promise<Applied> {
    const { step, action } = currentAction(definition, saga);
    const startedAt = new Date();
    if (action.type === 'remote') {
      const attempt = saga.attempt + 1;
      this.logger.debug({ step: step.name, direction: saga.direction, attempt }, 'saga step attempt');
      const event = await this.invokeRemote(step.name, action, this.context(saga.id, saga.data, attempt));
      return this.applyAndRun(definition, saga, event, startedAt);
    }
    try {
      return await this.runUnit(new Unit(definition, saga));
    } catch (error) {
      if (error instanceof SagaConcurrencyError) throw error;
      // The transaction rolled back with whatever it wrote (a command's outbox row could not be
      // written, say); record the failed attempt on its own.
      const event: SagaEvent<unknown> = { type: 'errored', attempt: saga.attempt + 1, error: describe(error), retryable: isRetryable(action, error), outcomeUnknown: false };
      return this.applyAndRun(definition, saga, event, startedAt);
    }
  }

  /**
   * Records `event` (an action's outcome, a timeout, the deadline) and, when the saga then goes on
   * with a local step or a command, runs those in the same transaction ({@link runActions}).
   * Otherwise one statement on its own, unless the saga ends compensated and `onCompensated` has
   * writes to join (then one transaction).
   */
  private async applyAndRun(definition: AnyDefinition, saga: SagaRecord, event: SagaEvent<unknown>, startedAt: Date): Promise<Applied> {
    const unit = new Unit(definition, saga);
    this.make(unit, event, startedAt);
    if (this.nextChained(unit, new Date(), false) !== undefined || this.endsCompensatedWithWrites(unit)) return this.runUnit(unit);
    return this.writeUnit(this.pool, unit);
  }

  /** Runs the unit's actions ({@link runActions}) and writes it, in a transaction of its own. */
  private async runUnit(unit: Unit): Promise<Applied> {
    try {
      return await withOutboxTransaction(this.pool, async (tx) => {
        await this.runActions(tx, unit, false);
        return this.writeUnit(tx, unit);
      });
    } catch (error) {
      throw sagaConflictOr(error, unit.saga.id, unit.saga.version);
    }
  }

  /** Computes one transition of `unit` (in memory; {@link writeUnit} writes it). */
  private make(unit: Unit, event: SagaEvent<unknown>, startedAt: Date): void {
    const at = new Date();
    const next = transition(unit.definition, unit.state, event, { now: at, defaultRetry: this.defaultRetry, random: this.random });
    unit.transitions.push({ next, timeline: timelineNote(next.log, event), at, startedAt });
  }

  /**
   * The action the unit goes on with inside its transaction, if any: the saga is due now, not past
   * its deadline, and its next action is a local step or a command whose step log the unit has
   * not changed yet in this direction. A local step with its own `timeoutMs` (a `SET LOCAL
   * statement_timeout` that would bind the rest of the transaction) only runs first in a fresh
   * transaction.
   */
  private nextChained(unit: Unit, now: Date, dirty: boolean): { step: SagaStep<unknown>; action: LocalAction<unknown> | CommandAction<unknown> } | undefined {
    const { state, definition } = unit;
    if (this.stopping && unit.transitions.length > 0) return undefined;
    if (finalStatuses.has(state.status) || state.status === 'AWAITING_REPLY' || state.wakeAt === null || state.wakeAt.getTime() > now.getTime()) return undefined;
    if (deadlineExceeded(definition, state, now)) return undefined;
    const { step, action } = currentAction(definition, state);
    if (action.type === 'remote' || unit.touches(step.name, state.direction)) return undefined;
    if (action.type === 'local' && action.timeoutMs !== undefined && dirty) return undefined;
    return { step, action };
  }

  /** True when the unit's last transition ended the saga compensated and `onCompensated` writes (which needs a transaction). */
  private endsCompensatedWithWrites(unit: Unit): boolean {
    return unit.state.status === 'COMPENSATED' && unit.definition.onCompensated !== undefined && unit.state.failure !== null;
  }

  /**
   * Runs the saga's actions in `tx` while {@link nextChained} finds one, making a transition for
   * each outcome. `dirty`: the transaction already holds writes that must outlive a failing
   * action (a reply's inbox row, an earlier step's effects), so each local step runs under a
   * savepoint; in a transaction that has written nothing yet, a failing step's writes are undone
   * by rolling back and beginning again. A local step's business failure, like its error, leaves
   * nothing of its own behind. Errors other than an action's are thrown (the unit rolls back).
   */
  private async runActions(tx: pg.PoolClient, unit: Unit, dirty: boolean): Promise<void> {
    for (let chained = this.nextChained(unit, new Date(), dirty); chained !== undefined; chained = this.nextChained(unit, new Date(), dirty)) {
      const { step, action } = chained;
      const { state } = unit;
      const attempt = state.attempt + 1;
      const startedAt = new Date();
      const context = this.context(unit.saga.id, state.data, attempt);
      this.logger.debug({ step: step.name, direction: state.direction, attempt }, 'saga step attempt');
      if (action.type === 'command') {
        const messageId = commandMessageId(unit.saga.id, step.name, state.direction, state.generation);
        const command = action.command(context);
        const message: MessageEnvelope = { ...command.message, id: messageId, correlation_id: unit.saga.id, reply_to: this.replyTopic };
        await enqueueMessage(tx, message, command.topic);
        dirty = true;
        const deadline = action.timeoutMs === undefined ? null : new Date(Date.now() + action.timeoutMs);
        this.make(unit, { type: 'command_sent', attempt, messageId, messageType: message.type, deadline }, startedAt);
        continue;
      }
      if (dirty) await sendInTransaction(tx, { text: 'SAVEPOINT saga_step' });
      let event: SagaEvent<unknown>;
      try {
        event = resultEvent(await this.invokeLocal(action, { ...context, tx }, tx), attempt);
      } catch (error) {
        event = { type: 'errored', attempt, error: describe(error), retryable: isRetryable(action, error), outcomeUnknown: false };
      }
      if (event.type === 'succeeded') dirty = true;
      else await tx.query(dirty ? 'ROLLBACK TO SAVEPOINT saga_step' : 'ROLLBACK; BEGIN');
      this.make(unit, event, startedAt);
      // Its statement timeout binds the rest of the transaction: nothing else runs in it.
      if (action.timeoutMs !== undefined) return;
    }
  }

  private async invokeLocal(action: LocalAction<unknown>, context: Parameters<LocalAction<unknown>['invoke']>[0], tx: pg.PoolClient): Promise<ActionResult<unknown>> {
    if (action.timeoutMs !== undefined) await tx.query(`SET LOCAL statement_timeout = ${Math.trunc(action.timeoutMs)}`);
    return action.invoke(context);
  }

  private async invokeRemote(step: string, action: RemoteAction<unknown>, context: StepContext<unknown>): Promise<SagaEvent<unknown>> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = action.timeoutMs;
    const timeout =
      timeoutMs === undefined
        ? undefined
        : new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              const error = new StepTimeoutError(step, timeoutMs);
              reject(error);
              controller.abort(error);
            }, timeoutMs);
          });
    try {
      const call = action.invoke({ ...context, signal: controller.signal });
      return resultEvent(await (timeout === undefined ? call : Promise.race([call, timeout])), context.attempt);
    } catch (thrown) {
      // Whatever the call threw once aborted, the cause is the timeout.
      const error: unknown = controller.signal.aborted ? controller.signal.reason : thrown;
      return { type: 'errored', attempt: context.attempt, error: describe(error), retryable: isRetryable(action, error), outcomeUnknown: true };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Writes the unit's transitions (after `onCompensated` when the saga ended compensated: `db` is
   * then the unit's transaction), then logs and counts what each meant.
   */
  private async writeUnit(db: Queryable, unit: Unit): Promise<Applied> {
    const { definition, saga, state } = unit;
    if (this.endsCompensatedWithWrites(unit)) {
      await definition.onCompensated!({ sagaId: saga.id, data: state.data as Readonly<Record<string, unknown>>, failure: state.failure!, tx: db as pg.PoolClient, logger: this.logger });
    }
    const applied = await this.write(db, unit);
    for (const { next } of unit.transitions) {
      const { log } = next;
      const fields = { step: log.step, action: log.action, direction: log.direction, outcome: log.status, attempts: log.attempts };
      if (log.status === 'retrying') this.logger.warn({ ...fields, err: log.error, retry_at: next.state.wakeAt?.toISOString() }, 'saga step failed; will retry');
      else if (log.status !== 'awaiting_reply') this.logger.info({ ...fields, ...(log.error === undefined ? {} : { reason: log.error }) }, 'saga step finished');
    }
    if (finalStatuses.has(state.status)) {
      const durationMs = applied.record.updatedAt.getTime() - saga.createdAt.getTime();
      this.metrics?.recordFinish(definition.name, state.status, durationMs);
      const summary = { status: state.status, duration_ms: durationMs, failure: state.failure };
      if (state.status === 'COMPENSATION_FAILED' || state.status === 'FAILED') this.logger.error(summary, 'saga parked: needs an operator');
      else this.logger.info(summary, `saga ${state.status.toLowerCase()}`);
    }
    return applied;
  }

  /**
   * Writes the unit as one saga update: keeps the lease while the saga goes straight on (this
   * driver continues), releases it when the saga waits for a reply or a timer, or ends.
   */
  private async write(db: Queryable, unit: Unit): Promise<Applied> {
    const { saga, state, transitions } = unit;
    const now = transitions.at(-1)!.at;
    const finished = finalStatuses.has(state.status);
    const continues = !finished && state.status !== 'AWAITING_REPLY' && state.wakeAt !== null && state.wakeAt.getTime() <= now.getTime();
    const lease = continues ? { owner: this.instanceId, until: this.leaseEnd(now) } : null;
    const version = await this.repository.transition(db, {
      id: saga.id,
      expectedVersion: saga.version,
      state,
      finished,
      now,
      lease,
      changes: transitions.map(({ next, timeline, at, startedAt }) => ({ log: next.log, at, startedAt, status: next.state.status, timeline })),
      writer: this.instanceId,
    });
    const record: SagaRecord = {
      ...saga,
      ...state,
      version,
      updatedAt: now,
      finishedAt: finished ? now : null,
      owner: lease?.owner ?? null,
      leaseUntil: lease?.until ?? null,
    };
    return { state, version, record, continues };
  }

  private renewLeases(): void {
    if (this.driving.size === 0 || this.stopping) return;
    const now = Date.now();
    withAsyncCommit(this.pool, (client) => this.repository.renewLeases(client, this.instanceId, [...this.driving], new Date(now + this.leaseMs))).catch((error: unknown) => {
      this.logger.warn({ err: error }, 'could not renew saga leases');
    });
  }

  private leaseEnd(now: Date): Date {
    return new Date(now.getTime() + this.leaseMs);
  }

  private schedule(sagaId: string, at: number): void {
    if (this.stopping) return;
    const existing = this.timers.get(sagaId);
    if (existing !== undefined && existing.at <= at) return;
    if (existing !== undefined) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(sagaId);
      this.kick(sagaId);
    }, Math.max(0, at - Date.now()));
    timer.unref();
    this.timers.set(sagaId, { at, timer });
  }

  /** The saga waits after `applied`: for a reply (and maybe its deadline), for a retry, or for nothing (final). */
  private scheduleWait(sagaId: string, applied: Applied): void {
    if (applied.state.wakeAt !== null && !finalStatuses.has(applied.state.status)) this.schedule(sagaId, applied.state.wakeAt.getTime());
  }

  private unschedule(sagaId: string): void {
    clearTimeout(this.timers.get(sagaId)?.timer);
    this.timers.delete(sagaId);
  }

  private context(sagaId: string, data: unknown, attempt: number): StepContext<unknown> {
    return { sagaId, data: data as Readonly<unknown>, attempt, logger: this.logger };
  }
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function definitionKey(name: string, version: number): string {
  return `${name}@${version}`;
}

function unknownDefinition(saga: Pick<SagaRecord, 'definitionName' | 'definitionVersion'>): string {
  return `SAGA.UNKNOWN_DEFINITION: ${definitionKey(saga.definitionName, saga.definitionVersion)} is not a definition of this process`;
}

/** Why `definition` cannot run the saga's current step (a renamed step, a missing compensation), or undefined. */
function unknownStep(definition: AnyDefinition, saga: Pick<SagaRecord, 'step' | 'direction'>): string | undefined {
  if (saga.step === null) return undefined;
  const step = definition.steps.find((candidate) => candidate.name === saga.step);
  if (step === undefined) return `SAGA.UNKNOWN_STEP: ${definitionKey(definition.name, definition.version)} has no step ${saga.step}`;
  if (saga.direction === 'compensate' && step.compensation === undefined) return `SAGA.UNKNOWN_STEP: step ${saga.step} has no compensation here`;
  return undefined;
}

function isRetryable(action: SagaAction<unknown>, error: unknown): boolean {
  if (error instanceof NonRetryableError) return false;
  return action.retryable?.(error) ?? true;
}

function resultEvent(result: ActionResult<unknown>, attempt: number): SagaEvent<unknown> {
  return result.status === 'succeeded'
    ? { type: 'succeeded', attempt, ...(result.data === undefined ? {} : { data: result.data }) }
    : { type: 'failed', attempt, code: result.code, reason: result.reason };
}

/** The timeline entry of a transition: the step-log status it led to, with the message concerned. */
function timelineNote(log: StepLogChange, event: SagaEvent<unknown>): TimelineNote {
  switch (event.type) {
    case 'command_sent':
      return { event: log.status, messageId: event.messageId, messageType: event.messageType ?? null };
    case 'succeeded':
    case 'failed':
      return { event: log.status, messageId: event.replyMessageId ?? null, messageType: event.replyType ?? null, detail: event.type === 'failed' ? `${event.code}: ${event.reason}` : null };
    default:
      return { event: log.status, detail: log.error ?? null };
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

function toSummary(record: SagaRecord): SagaSummary {
  return {
    id: record.id,
    definitionName: record.definitionName,
    definitionVersion: record.definitionVersion,
    status: record.status,
    direction: record.direction,
    currentStep: record.step,
    attempt: record.attempt,
    data: record.data,
    failure: record.failure,
    awaitingMessageId: record.awaitingMessageId,
    wakeAt: record.wakeAt?.toISOString() ?? null,
    deadlineAt: record.deadlineAt?.toISOString() ?? null,
    generation: record.generation,
    owner: record.owner,
    leaseUntil: record.leaseUntil?.toISOString() ?? null,
    parkedAt: record.parkedAt?.toISOString() ?? null,
    parkedReason: record.parkedReason,
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
    finishedAt: record.finishedAt?.toISOString() ?? null,
  };
}
