import type { MessageEnvelope } from '@msr/events';
import type { Logger } from '@msr/service-defaults';
import type pg from 'pg';
import { validateRetryPolicy, type RetryPolicy } from './retry-policy.js';

/**
 * The role of a step in an orchestrated saga (Garcia-Molina & Salem's sagas, in the terms of
 * Richardson's *Microservices Patterns*):
 * - `compensatable`: may be undone by its compensation if a later step fails; these come first.
 * - `pivot`: the go/no-go step; once it succeeds the saga can only go forward. At most one.
 * - `retriable`: after the pivot; never compensated, so it is retried until it succeeds (a saga
 *   whose retriable step gives up is parked `FAILED` for an operator).
 */
export type StepKind = 'compensatable' | 'pivot' | 'retriable';

/** Which way a saga is moving: executing steps, or compensating the completed ones in reverse. */
export type SagaDirection = 'forward' | 'compensate';

/**
 * What an action reports:
 * - `succeeded`, optionally with fields to merge into the saga's data (e.g. a `payment_id`);
 * - `failed`: an expected business failure (out of stock, payment declined) with a stable `code`
 *   such as `ORDER.OUT_OF_STOCK`. Not retried; in the forward direction the saga compensates.
 *
 * Transient failures (timeouts, a broker or service down) are *thrown*, and retried per the
 * action's {@link RetryPolicy}.
 */
export type ActionResult<Data> = { status: 'succeeded'; data?: Partial<Data> } | { status: 'failed'; code: string; reason: string };

/** What every action is given. */
export interface StepContext<Data> {
  sagaId: string;
  /** The saga's data as of this attempt; return changes in {@link ActionResult} `data`. */
  data: Readonly<Data>;
  /** 1 for the first attempt of this step in this direction. */
  attempt: number;
  /** The orchestrator's logger; lines carry `saga_id`. */
  logger: Logger;
}

/** Context of a {@link LocalAction}: a client inside the transaction that records the outcome. */
export interface LocalContext<Data> extends StepContext<Data> {
  tx: pg.PoolClient;
}

/** Context of a {@link RemoteAction}: aborted when the action's `timeoutMs` elapses. */
export interface RemoteContext<Data> extends StepContext<Data> {
  signal: AbortSignal;
}

/** Fields shared by every action: how often to try and how long to wait. */
interface ActionOptions {
  /**
   * What the step log calls this action, e.g. `release-inventory` for the compensation of
   * `reserve-inventory`. Defaults to the step's name.
   */
  name?: string;
  /** Defaults to the orchestrator's `defaultRetry`. */
  retry?: RetryPolicy;
  /**
   * Whether a thrown error is worth another attempt; errors it refuses are never retried (the step
   * gives up at once). By default everything but `NonRetryableError` is retried.
   */
  retryable?: (error: unknown) => boolean;
  /**
   * Per-attempt time limit, in ms. Local: the transaction's `statement_timeout`. Remote: the
   * attempt is aborted and counts as a transient failure. Command: the reply deadline; a reply
   * that does not come in time fails the step (forward: the saga compensates, including this
   * step, whose effect is unknown; compensate: `COMPENSATION_FAILED`).
   */
  timeoutMs?: number;
}

/**
 * A step done in this service's own database. `invoke` runs inside the transaction that also
 * records the step's outcome and moves the saga on, so the effect and the saga state commit
 * together or not at all. A `failed` result rolls back whatever `invoke` wrote (the transaction
 * is rolled back and the failure recorded in a new one), so a business failure leaves nothing
 * behind.
 */
export interface LocalAction<Data> extends ActionOptions {
  type: 'local';
  invoke(ctx: LocalContext<Data>): Promise<ActionResult<Data>>;
}

/**
 * A synchronous call to another service (e.g. HTTP through discovery and a circuit breaker),
 * made outside any database transaction. Must be idempotent: after a crash it is made again.
 */
export interface RemoteAction<Data> extends ActionOptions {
  type: 'remote';
  invoke(ctx: RemoteContext<Data>): Promise<ActionResult<Data>>;
}

/**
 * A command to send and the topic to send it to (defaults to the catalog topic of its type).
 * The orchestrator stamps `id` (deterministic, see {@link commandMessageId}), `correlation_id`
 * (the saga id) and `reply_to` (the orchestrator's reply topic) over whatever the message had.
 */
export interface SagaCommand {
  message: MessageEnvelope;
  topic?: string;
}

/**
 * An asynchronous step: a command written to the outbox in the same transaction that puts the
 * saga in `AWAITING_REPLY`; the reply (matched by causation id) is mapped by `onReply`.
 * The participant must be idempotent by message id or business key.
 */
export interface CommandAction<Data> extends ActionOptions {
  type: 'command';
  command(ctx: StepContext<Data>): SagaCommand;
  /** Maps the reply to the step's outcome. Throwing makes the reply's handling fail (and be retried by the inbox). */
  onReply(reply: MessageEnvelope, ctx: StepContext<Data>): ActionResult<Data>;
}

/** What a step (or its compensation) does. */
export type SagaAction<Data> = LocalAction<Data> | RemoteAction<Data> | CommandAction<Data>;

/** One step of a saga definition (seed 002's `SagaStep`: execute, compensate, retry policy, timeout). */
export interface SagaStep<Data> {
  /** Unique within the definition; stored in the saga's state and step log (never an index). */
  name: string;
  kind: StepKind;
  action: SagaAction<Data>;
  /**
   * Undoes the action; only `compensatable` steps may have one. It is registered only once the
   * action succeeded (or its outcome is unknown after a remote or command timeout), and must
   * tolerate having nothing to undo and being run twice.
   */
  compensation?: SagaAction<Data>;
}

/** Why a saga compensated. */
export interface SagaFailure {
  /** Stable code, e.g. `PAYMENT.INSUFFICIENT_FUNDS`, `SAGA.RETRIES_EXHAUSTED`, `SAGA.STEP_TIMEOUT`. */
  code: string;
  reason: string;
  /** The step that failed. */
  step: string;
}

/** Context of {@link SagaDefinition.onCompensated}. */
export interface SagaEndContext<Data> {
  sagaId: string;
  data: Readonly<Data>;
  failure: SagaFailure;
  tx: pg.PoolClient;
  logger: Logger;
}

/**
 * A saga definition: a name, a version and steps in order. Instances store the name and version
 * they started with; change a definition's steps by adding a new version beside the old one.
 *
 * @typeParam Data - the saga's JSON-serialisable data, persisted as `jsonb`.
 */
export interface SagaDefinition<Data> {
  name: string;
  /** Positive integer. */
  version: number;
  steps: readonly SagaStep<Data>[];
  /**
   * The saga deadline, in ms from its start (a durable timer, like step timeouts): a saga still
   * before its pivot when it passes compensates with `SAGA.DEADLINE_EXCEEDED` (the step in hand
   * included when its effect is unknown). After the pivot the saga only goes forward, and
   * compensation is never cut short. No deadline when absent.
   */
  deadlineMs?: number;
  /**
   * Runs in the transaction of the transition that ends the saga `COMPENSATED`, e.g. to reject
   * the order and write `order.rejected` to the outbox.
   */
  onCompensated?(ctx: SagaEndContext<Data>): Promise<void>;
}

/** A definition that breaks the rules of {@link validateDefinition}. */
export class SagaDefinitionError extends Error {
  constructor(definition: string, problem: string) {
    super(`saga definition ${definition}: ${problem}`);
    this.name = 'SagaDefinitionError';
  }
}

/**
 * Checks a definition: a name, a positive integer version, at least one step, unique step names,
 * kinds in order (compensatable steps, then at most one pivot, then retriable steps, which need a
 * pivot before them), compensations only on compensatable steps, sane retry policies and timeouts.
 *
 * @returns the same definition.
 * @throws {SagaDefinitionError} naming the first problem.
 */
export function validateDefinition<Data>(definition: SagaDefinition<Data>): SagaDefinition<Data> {
  const label = `${definition.name}@${definition.version}`;
  const fail = (problem: string): never => {
    throw new SagaDefinitionError(label, problem);
  };
  if (definition.name.trim() === '') fail('name is empty');
  if (!Number.isInteger(definition.version) || definition.version < 1) fail('version must be a positive integer');
  if (definition.steps.length === 0) fail('has no steps');
  if (definition.deadlineMs !== undefined && !(Number.isInteger(definition.deadlineMs) && definition.deadlineMs > 0)) fail('deadlineMs must be a positive integer');
  const names = new Set<string>();
  const rank: Record<StepKind, number> = { compensatable: 0, pivot: 1, retriable: 2 };
  let previous: StepKind = 'compensatable';
  for (const step of definition.steps) {
    if (step.name.trim() === '') fail('a step name is empty');
    if (names.has(step.name)) fail(`step ${step.name} is defined twice`);
    names.add(step.name);
    if (rank[step.kind] < rank[previous]) fail(`step ${step.name} (${step.kind}) comes after a ${previous} step`);
    if (step.kind === 'pivot' && previous === 'pivot') fail(`step ${step.name} is a second pivot`);
    if (step.kind === 'retriable' && previous === 'compensatable') fail(`retriable step ${step.name} needs a pivot before it`);
    if (step.compensation !== undefined && step.kind !== 'compensatable') fail(`${step.kind} step ${step.name} cannot have a compensation`);
    for (const action of [step.action, step.compensation]) {
      if (action === undefined) continue;
      if (action.retry !== undefined) {
        try {
          validateRetryPolicy(action.retry);
        } catch (error) {
          fail(`step ${step.name}: ${(error as Error).message}`);
        }
      }
      if (action.timeoutMs !== undefined && !(Number.isInteger(action.timeoutMs) && action.timeoutMs > 0)) {
        fail(`step ${step.name}: timeoutMs must be a positive integer`);
      }
    }
    previous = step.kind;
  }
  return definition;
}
