import type { SagaAction, SagaDefinition, SagaDirection, SagaFailure, SagaStep } from './definition.js';
import { fullJitterDelay } from '@msr/circuit-breaker';
import type { RetryPolicy } from './retry-policy.js';

/**
 * Where a saga instance is:
 * - `RUNNING`: executing forward steps; `AWAITING_REPLY`: waiting for a command's reply (in either
 *   direction, see `direction`); `COMPENSATING`: undoing completed steps in reverse.
 * - final: `COMPLETED` (every step succeeded), `COMPENSATED` (a step failed and every completed
 *   step was undone), `COMPENSATION_FAILED` (a compensation gave up; parked for an operator, never
 *   swallowed), `FAILED` (a retriable step after the pivot gave up; parked for an operator).
 */
export type SagaStatus = 'RUNNING' | 'AWAITING_REPLY' | 'COMPENSATING' | 'COMPLETED' | 'COMPENSATED' | 'COMPENSATION_FAILED' | 'FAILED';

/** Every {@link SagaStatus}, e.g. to validate a query parameter. */
export const sagaStatuses = ['RUNNING', 'AWAITING_REPLY', 'COMPENSATING', 'COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED', 'FAILED'] as const satisfies readonly SagaStatus[];

/** Statuses after which nothing more happens to a saga. */
export const finalStatuses: ReadonlySet<SagaStatus> = new Set(['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED', 'FAILED']);

/** The mutable part of a saga instance, as the state machine sees it. */
export interface SagaState<Data> {
  status: SagaStatus;
  direction: SagaDirection;
  /** The step being executed or compensated; null once final. */
  step: string | null;
  /** Attempts made so far at `step` in `direction`. */
  attempt: number;
  data: Data;
  /** Steps whose compensation is registered, in completion order. */
  compensations: readonly string[];
  /** The command whose reply is awaited. */
  awaitingMessageId: string | null;
  /** When the saga is next due; null while waiting without deadline and once final. */
  wakeAt: Date | null;
  /** The saga deadline (definition `deadlineMs` after the start); null without one. */
  deadlineAt: Date | null;
  /** Why the saga compensated or was parked. */
  failure: SagaFailure | null;
  /**
   * Incremented each time an operator retries a parked saga; part of command ids, so a retried
   * command is a new message (the participant's inbox would skip a repeated id).
   */
  generation: number;
}

/** The outcome recorded for one step in one direction. */
export type StepLogStatus = 'retrying' | 'awaiting_reply' | 'succeeded' | 'failed' | 'exhausted' | 'timed_out';

/** Something that happened to the current step. `attempt` is the attempt it concerns (1-based). */
export type SagaEvent<Data> =
  | { type: 'succeeded'; attempt: number; data?: Partial<Data>; replyMessageId?: string; replyType?: string }
  | { type: 'failed'; attempt: number; code: string; reason: string; replyMessageId?: string; replyType?: string }
  /** A transient failure: thrown by the action, or a timeout. `outcomeUnknown`: the effect may have happened (a remote call). */
  | { type: 'errored'; attempt: number; error: string; retryable: boolean; outcomeUnknown: boolean }
  | { type: 'command_sent'; attempt: number; messageId: string; messageType?: string; deadline: Date | null }
  /** The awaited reply did not come before the deadline. */
  | { type: 'timed_out' }
  /** The saga deadline passed before the pivot (see {@link deadlineExceeded}). */
  | { type: 'deadline_exceeded' };

/** How the step log row of (step, direction) changes with a transition. */
export interface StepLogChange {
  step: string;
  /** The action's name: the step's, or its compensation's (e.g. `release-inventory`). */
  action: string;
  direction: SagaDirection;
  status: StepLogStatus;
  attempts: number;
  /** True when the step is done in this direction (finished_at is set). */
  finished: boolean;
  failureCode?: string;
  error?: string;
  commandMessageId?: string;
  replyMessageId?: string;
}

/** The result of {@link transition}. */
export interface Transition<Data> {
  state: SagaState<Data>;
  log: StepLogChange;
}

/** Inputs of a transition that are not the saga's own. */
export interface TransitionEnvironment {
  now: Date;
  /** Used for actions without their own retry policy. */
  defaultRetry: RetryPolicy;
  /** [0, 1) source for backoff jitter. */
  random?: () => number;
}

/** The initial state of a new saga: running its first step. */
export function initialState<Data>(definition: SagaDefinition<Data>, data: Data, now: Date): SagaState<Data> {
  return {
    status: 'RUNNING',
    direction: 'forward',
    step: definition.steps[0]!.name,
    attempt: 0,
    data,
    compensations: [],
    awaitingMessageId: null,
    wakeAt: now,
    deadlineAt: definition.deadlineMs === undefined ? null : new Date(now.getTime() + definition.deadlineMs),
    failure: null,
    generation: 0,
  };
}

/**
 * True when the saga deadline has passed and still binds: the saga is going forward and has not
 * passed its pivot (after the pivot it can only go forward; compensation is never cut short).
 */
export function deadlineExceeded<Data>(definition: SagaDefinition<Data>, state: SagaState<Data>, now: Date): boolean {
  return deadlineBinds(definition, state) && state.deadlineAt !== null && state.deadlineAt.getTime() <= now.getTime();
}

function deadlineBinds<Data>(definition: SagaDefinition<Data>, state: SagaState<Data>): boolean {
  if (state.deadlineAt === null || state.direction !== 'forward' || finalStatuses.has(state.status)) return false;
  return definition.steps.find((step) => step.name === state.step)?.kind !== 'retriable';
}

/** The saga wakes at the deadline at the latest while it binds, even when waiting for a reply without step timeout. */
function boundedByDeadline<Data>(definition: SagaDefinition<Data>, state: SagaState<Data>): SagaState<Data> {
  if (!deadlineBinds(definition, state) || state.deadlineAt === null) return state;
  const wakeAt = state.wakeAt === null || state.wakeAt.getTime() > state.deadlineAt.getTime() ? state.deadlineAt : state.wakeAt;
  return { ...state, wakeAt };
}

/**
 * An operator's retry of a parked saga: `COMPENSATION_FAILED` compensates its current step again,
 * `FAILED` runs its current (retriable) step again, both from attempt 1 with a new command
 * generation.
 *
 * @throws {Error} when the saga is not parked in one of those statuses.
 */
export function operatorRetry<Data>(definition: SagaDefinition<Data>, state: SagaState<Data>, now: Date): Transition<Data> {
  if (state.status !== 'COMPENSATION_FAILED' && state.status !== 'FAILED') throw new Error(`only a COMPENSATION_FAILED or FAILED saga can be retried, not ${state.status}`);
  const { step, action } = currentAction(definition, state);
  const compensating = state.status === 'COMPENSATION_FAILED';
  const next: SagaState<Data> = {
    ...state,
    status: compensating ? 'COMPENSATING' : 'RUNNING',
    attempt: 0,
    awaitingMessageId: null,
    wakeAt: now,
    generation: state.generation + 1,
  };
  return {
    state: next,
    log: { step: step.name, action: action.name ?? step.name, direction: state.direction, status: 'retrying', attempts: state.attempt, finished: false, error: 'retried by an operator' },
  };
}

/** The action a non-final saga runs next: the current step's action or its compensation. */
export function currentAction<Data>(definition: SagaDefinition<Data>, state: SagaState<Data>): { step: SagaStep<Data>; action: SagaAction<Data> } {
  const step = findStep(definition, state.step);
  const action = state.direction === 'forward' ? step.action : step.compensation;
  if (action === undefined) throw new Error(`saga ${definition.name}@${definition.version}: step ${step.name} has no compensation`);
  return { step, action };
}

/**
 * The saga state machine, free of I/O so that it can be tested exhaustively: given a state and
 * what happened to the current step, the next state and the step-log change.
 *
 * Forward: success registers the step's compensation (if it has one) and moves to the next step
 * or `COMPLETED`; a business failure starts compensation; a transient failure schedules a retry
 * after backoff (`wakeAt`) until the policy's attempts are spent, then starts compensation with
 * `SAGA.RETRIES_EXHAUSTED`. A step whose effect is unknown (a remote call that errored, a command
 * whose reply timed out) is compensated too. Retriable steps never compensate: they park `FAILED`.
 *
 * Compensate: compensations run from the last registered to the first; one that fails after its
 * retries (or reports a business failure, or times out) parks the saga `COMPENSATION_FAILED`.
 *
 * @throws {Error} when the state's step is not in the definition or the saga is final.
 */
export function transition<Data>(definition: SagaDefinition<Data>, state: SagaState<Data>, event: SagaEvent<Data>, env: TransitionEnvironment): Transition<Data> {
  const next = unbounded(definition, state, event, env);
  return { ...next, state: boundedByDeadline(definition, next.state) };
}

function unbounded<Data>(definition: SagaDefinition<Data>, state: SagaState<Data>, event: SagaEvent<Data>, env: TransitionEnvironment): Transition<Data> {
  if (finalStatuses.has(state.status)) throw new Error(`saga is ${state.status}; no further transitions`);
  const { step, action } = currentAction(definition, state);
  const base = { step: step.name, action: action.name ?? step.name, direction: state.direction } as const;
  const attempts = event.type === 'timed_out' || event.type === 'deadline_exceeded' ? state.attempt : event.attempt;
  const forward = state.direction === 'forward';

  switch (event.type) {
    case 'command_sent':
      return {
        state: { ...state, status: 'AWAITING_REPLY', attempt: attempts, awaitingMessageId: event.messageId, wakeAt: event.deadline },
        log: { ...base, status: 'awaiting_reply', attempts, finished: false, commandMessageId: event.messageId },
      };

    case 'succeeded': {
      const log: StepLogChange = { ...base, status: 'succeeded', attempts, finished: true, ...replyOf(event) };
      if (forward) {
        const data = event.data === undefined ? state.data : { ...state.data, ...event.data };
        const compensations = step.compensation === undefined ? state.compensations : [...state.compensations, step.name];
        return { state: nextForward(definition, { ...state, data, compensations }, step, env.now), log };
      }
      return { state: nextCompensation({ ...state, compensations: state.compensations.slice(0, -1) }, env.now), log };
    }

    case 'failed': {
      const log: StepLogChange = { ...base, status: 'failed', attempts, finished: true, failureCode: event.code, error: event.reason, ...replyOf(event) };
      const failure = { code: event.code, reason: event.reason, step: step.name };
      if (!forward) return { state: parked(state, 'COMPENSATION_FAILED', state.failure ?? failure, attempts), log };
      if (step.kind === 'retriable') return { state: parked(state, 'FAILED', failure, attempts), log };
      return { state: startCompensation(state, failure, env.now), log };
    }

    case 'errored': {
      const policy = action.retry ?? env.defaultRetry;
      if (event.retryable && attempts < policy.maxAttempts) {
        const delay = fullJitterDelay(attempts, policy, env.random);
        return {
          state: { ...state, attempt: attempts, awaitingMessageId: null, wakeAt: new Date(env.now.getTime() + delay) },
          log: { ...base, status: 'retrying', attempts, finished: false, error: event.error },
        };
      }
      const log: StepLogChange = { ...base, status: 'exhausted', attempts, finished: true, failureCode: 'SAGA.RETRIES_EXHAUSTED', error: event.error };
      const failure = { code: 'SAGA.RETRIES_EXHAUSTED', reason: `${step.name} failed after ${attempts} attempt(s): ${event.error}`, step: step.name };
      if (!forward) return { state: parked(state, 'COMPENSATION_FAILED', state.failure ?? failure, attempts), log };
      if (step.kind === 'retriable') return { state: parked(state, 'FAILED', failure, attempts), log };
      return { state: startCompensation(withUnknownOutcome(state, step, event.outcomeUnknown), failure, env.now), log };
    }

    case 'timed_out': {
      const error = `no reply within ${action.timeoutMs ?? 0} ms`;
      const log: StepLogChange = { ...base, status: 'timed_out', attempts, finished: true, failureCode: 'SAGA.STEP_TIMEOUT', error };
      const failure = { code: 'SAGA.STEP_TIMEOUT', reason: `${step.name}: ${error}`, step: step.name };
      if (!forward) return { state: parked(state, 'COMPENSATION_FAILED', state.failure ?? failure, attempts), log };
      if (step.kind === 'retriable') return { state: parked(state, 'FAILED', failure, attempts), log };
      return { state: startCompensation(withUnknownOutcome(state, step, true), failure, env.now), log };
    }

    case 'deadline_exceeded': {
      if (!deadlineBinds(definition, state)) throw new Error(`the saga deadline does not bind at ${state.direction} step ${step.name}`);
      const error = `the saga deadline (${definition.deadlineMs ?? 0} ms) passed during ${step.name}`;
      const log: StepLogChange = { ...base, status: 'timed_out', attempts, finished: true, failureCode: 'SAGA.DEADLINE_EXCEEDED', error };
      const failure = { code: 'SAGA.DEADLINE_EXCEEDED', reason: error, step: step.name };
      // A command awaiting its reply, or a remote call that was tried, may have had its effect.
      const unknown = state.status === 'AWAITING_REPLY' || (action.type === 'remote' && state.attempt > 0);
      return { state: startCompensation(withUnknownOutcome(state, step, unknown), failure, env.now), log };
    }
  }
}

function findStep<Data>(definition: SagaDefinition<Data>, name: string | null): SagaStep<Data> {
  const step = definition.steps.find((candidate) => candidate.name === name);
  if (step === undefined) throw new Error(`saga ${definition.name}@${definition.version} has no step ${String(name)}`);
  return step;
}

function replyOf(event: { replyMessageId?: string }): Pick<StepLogChange, 'replyMessageId'> {
  return event.replyMessageId === undefined ? {} : { replyMessageId: event.replyMessageId };
}

function nextForward<Data>(definition: SagaDefinition<Data>, state: SagaState<Data>, step: SagaStep<Data>, now: Date): SagaState<Data> {
  const next = definition.steps[definition.steps.indexOf(step) + 1];
  if (next === undefined) return { ...state, status: 'COMPLETED', step: null, attempt: 0, awaitingMessageId: null, wakeAt: null };
  return { ...state, status: 'RUNNING', step: next.name, attempt: 0, awaitingMessageId: null, wakeAt: now };
}

function startCompensation<Data>(state: SagaState<Data>, failure: SagaFailure, now: Date): SagaState<Data> {
  return nextCompensation({ ...state, direction: 'compensate', failure }, now);
}

function nextCompensation<Data>(state: SagaState<Data>, now: Date): SagaState<Data> {
  const last = state.compensations.at(-1);
  if (last === undefined) return { ...state, status: 'COMPENSATED', step: null, attempt: 0, awaitingMessageId: null, wakeAt: null };
  return { ...state, status: 'COMPENSATING', step: last, attempt: 0, awaitingMessageId: null, wakeAt: now };
}

function parked<Data>(state: SagaState<Data>, status: 'FAILED' | 'COMPENSATION_FAILED', failure: SagaFailure, attempts: number): SagaState<Data> {
  return { ...state, status, attempt: attempts, awaitingMessageId: null, wakeAt: null, failure };
}

/** A step whose effect may have happened is compensated too (compensations tolerate nothing to undo). */
function withUnknownOutcome<Data>(state: SagaState<Data>, step: SagaStep<Data>, outcomeUnknown: boolean): SagaState<Data> {
  if (!outcomeUnknown || step.compensation === undefined) return state;
  return { ...state, compensations: [...state.compensations, step.name] };
}
