import { describe, expect, it } from 'vitest';
import type { CommandAction, LocalAction, RemoteAction, SagaDefinition, SagaStep } from './definition.js';
import { deadlineExceeded, initialState, operatorRetry, transition, type SagaEvent, type SagaState, type StepLogChange } from './state-machine.js';

interface Data {
  order: string;
  payment?: string;
}

// The machine never calls actions; these stand-ins only give steps their shape.
const local = (retry?: LocalAction<Data>['retry']): LocalAction<Data> => ({
  type: 'local',
  invoke: () => Promise.reject(new Error('not called')),
  ...(retry === undefined ? {} : { retry }),
});
const remote: RemoteAction<Data> = { type: 'remote', invoke: () => Promise.reject(new Error('not called')) };
const command = (timeoutMs?: number): CommandAction<Data> => ({
  type: 'command',
  command: () => {
    throw new Error('not called');
  },
  onReply: () => ({ status: 'succeeded' }),
  ...(timeoutMs === undefined ? {} : { timeoutMs }),
});

const steps: SagaStep<Data>[] = [
  { name: 'verify', kind: 'compensatable', action: remote },
  { name: 'reserve', kind: 'compensatable', action: local(), compensation: { ...local({ maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 10 }), name: 'release' } },
  { name: 'charge', kind: 'compensatable', action: command(1_000), compensation: command(1_000) },
  { name: 'approve', kind: 'pivot', action: local() },
  { name: 'notify', kind: 'retriable', action: local() },
];
const definition: SagaDefinition<Data> = { name: 'test', version: 1, steps };
const now = new Date('2025-01-01T00:00:00.000Z');
const env = { now, defaultRetry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 }, random: () => 0.5 };

/** Feeds events to the machine one by one; returns every state and log change on the way. */
function run(events: SagaEvent<Data>[], start: SagaState<Data> = initialState(definition, { order: 'o-1' }, now)) {
  const states: SagaState<Data>[] = [start];
  const logs: StepLogChange[] = [];
  for (const event of events) {
    const next = transition(definition, states.at(-1)!, event, env);
    states.push(next.state);
    logs.push(next.log);
  }
  return { states, logs, final: states.at(-1)! };
}

const ok = (data?: Partial<Data>): SagaEvent<Data> => ({ type: 'succeeded', attempt: 1, ...(data === undefined ? {} : { data }) });
const sent = (messageId: string): SagaEvent<Data> => ({ type: 'command_sent', attempt: 1, messageId, deadline: new Date(now.getTime() + 1_000) });
const declined: SagaEvent<Data> = { type: 'failed', attempt: 1, code: 'PAYMENT.INSUFFICIENT_FUNDS', reason: 'balance too low' };
const boom = (attempt: number, retryable = true): SagaEvent<Data> => ({ type: 'errored', attempt, error: 'connection refused', retryable, outcomeUnknown: false });

describe('saga state machine, forward', () => {
  it('runs every step in order and completes, merging step data', () => {
    const { states, final } = run([ok(), ok(), sent('cmd-1'), ok({ payment: 'p-1' }), ok(), ok()]);
    expect(states.map((state) => `${state.status}:${state.step}`)).toEqual([
      'RUNNING:verify',
      'RUNNING:reserve',
      'RUNNING:charge',
      'AWAITING_REPLY:charge',
      'RUNNING:approve',
      'RUNNING:notify',
      'COMPLETED:null',
    ]);
    expect(final.data).toEqual({ order: 'o-1', payment: 'p-1' });
    expect(final.wakeAt).toBeNull();
  });

  it('waits for the reply of the command it sent, until the step deadline', () => {
    const { final, logs } = run([ok(), ok(), sent('cmd-1')]);
    expect(final).toMatchObject({ status: 'AWAITING_REPLY', awaitingMessageId: 'cmd-1', wakeAt: new Date(now.getTime() + 1_000) });
    expect(logs.at(-1)).toMatchObject({ step: 'charge', status: 'awaiting_reply', commandMessageId: 'cmd-1', finished: false });
  });

  it('registers compensations only for completed steps that have one', () => {
    const { final } = run([ok(), ok(), sent('cmd-1'), ok()]);
    expect(final.compensations).toEqual(['reserve', 'charge']);
  });
});

describe('saga state machine, compensation', () => {
  it('compensates completed steps in reverse order after a business failure', () => {
    const { states, final, logs } = run([
      ok(),
      ok(),
      sent('cmd-1'),
      ok(),
      { type: 'failed', attempt: 1, code: 'ORDER.CANNOT_APPROVE', reason: 'no' },
      sent('cmd-2'),
      ok(),
      ok(),
    ]);
    expect(states.slice(5).map((state) => `${state.status}:${state.direction}:${state.step}`)).toEqual([
      'COMPENSATING:compensate:charge',
      'AWAITING_REPLY:compensate:charge',
      'COMPENSATING:compensate:reserve',
      'COMPENSATED:compensate:null',
    ]);
    expect(final.failure).toEqual({ code: 'ORDER.CANNOT_APPROVE', reason: 'no', step: 'approve' });
    expect(logs.filter((log) => log.direction === 'compensate' && log.status === 'succeeded').map((log) => log.step)).toEqual(['charge', 'reserve']);
    // A compensation is logged under its own name when it has one, under its step's otherwise.
    expect(logs.filter((log) => log.direction === 'compensate' && log.status === 'succeeded').map((log) => log.action)).toEqual(['charge', 'release']);
  });

  it('does not compensate the step that failed, only the ones before it', () => {
    const { states, final } = run([ok(), ok(), sent('cmd-1'), declined, ok()]);
    expect(states[4]).toMatchObject({ status: 'COMPENSATING', step: 'reserve', compensations: ['reserve'] });
    expect(final).toMatchObject({ status: 'COMPENSATED', failure: { code: 'PAYMENT.INSUFFICIENT_FUNDS', step: 'charge' } });
  });

  it('ends compensated at once when the first step fails', () => {
    const { final, logs } = run([{ type: 'failed', attempt: 1, code: 'USER.NOT_ACTIVE', reason: 'user is pending' }]);
    expect(final).toMatchObject({ status: 'COMPENSATED', step: null, compensations: [] });
    expect(logs).toEqual([{ step: 'verify', action: 'verify', direction: 'forward', status: 'failed', attempts: 1, finished: true, failureCode: 'USER.NOT_ACTIVE', error: 'user is pending' }]);
  });

  it('parks the saga COMPENSATION_FAILED when a compensation runs out of retries, keeping the original failure', () => {
    const { final, logs } = run([ok(), ok(), sent('cmd-1'), declined, boom(1), boom(2)]);
    expect(logs.at(-2)).toMatchObject({ step: 'reserve', direction: 'compensate', status: 'retrying', attempts: 1 });
    expect(final).toMatchObject({ status: 'COMPENSATION_FAILED', step: 'reserve', wakeAt: null, failure: { code: 'PAYMENT.INSUFFICIENT_FUNDS' } });
  });

  it('parks the saga COMPENSATION_FAILED when a compensation reply does not come in time', () => {
    const { final } = run([ok(), ok(), sent('cmd-1'), ok(), { type: 'failed', attempt: 1, code: 'X', reason: 'x' }, sent('cmd-2'), { type: 'timed_out' }]);
    expect(final).toMatchObject({ status: 'COMPENSATION_FAILED', step: 'charge', direction: 'compensate' });
  });
});

describe('saga state machine, business versus transient failures', () => {
  it('retries a transient failure after a backoff within the policy bounds', () => {
    const { final, logs } = run([ok(), boom(1)]);
    expect(final).toMatchObject({ status: 'RUNNING', step: 'reserve', attempt: 1 });
    // random 0.5 of a 100 ms ceiling after the first failure.
    expect(final.wakeAt).toEqual(new Date(now.getTime() + 50));
    expect(logs.at(-1)).toMatchObject({ status: 'retrying', attempts: 1, error: 'connection refused', finished: false });
  });

  it('compensates with the last error once the attempts are spent', () => {
    const { final, logs } = run([ok(), boom(1), boom(2), boom(3)]);
    expect(logs.at(-1)).toMatchObject({ step: 'reserve', status: 'exhausted', attempts: 3, failureCode: 'SAGA.RETRIES_EXHAUSTED' });
    expect(final).toMatchObject({
      status: 'COMPENSATED',
      failure: { code: 'SAGA.RETRIES_EXHAUSTED', reason: 'reserve failed after 3 attempt(s): connection refused', step: 'reserve' },
    });
  });

  it('does not retry an error marked non-retryable', () => {
    const { final } = run([ok(), boom(1, false)]);
    expect(final).toMatchObject({ status: 'COMPENSATED', failure: { code: 'SAGA.RETRIES_EXHAUSTED' } });
  });

  it('never retries a business failure', () => {
    const { final } = run([ok(), { type: 'failed', attempt: 1, code: 'ORDER.OUT_OF_STOCK', reason: 'SKU-A short' }]);
    expect(final).toMatchObject({ status: 'COMPENSATED', attempt: 0, failure: { code: 'ORDER.OUT_OF_STOCK' } });
  });

  it('compensates a command step whose reply timed out, since its effect is unknown', () => {
    const { final } = run([ok(), ok(), sent('cmd-1'), { type: 'timed_out' }]);
    expect(final).toMatchObject({
      status: 'COMPENSATING',
      step: 'charge',
      compensations: ['reserve', 'charge'],
      failure: { code: 'SAGA.STEP_TIMEOUT', step: 'charge' },
    });
  });

  it('parks a retriable step after the pivot as FAILED instead of compensating', () => {
    const { final } = run([ok(), ok(), sent('cmd-1'), ok(), ok(), boom(1), boom(2), boom(3)]);
    expect(final).toMatchObject({ status: 'FAILED', step: 'notify', compensations: ['reserve', 'charge'] });
  });

  it('refuses to move a final saga', () => {
    const { final } = run([declined]);
    expect(() => transition(definition, final, ok(), env)).toThrow(/COMPENSATED/);
  });
});

describe('saga state machine, the saga deadline', () => {
  const withDeadline: SagaDefinition<Data> = { ...definition, deadlineMs: 5_000 };
  const deadline = new Date(now.getTime() + 5_000);
  const start = initialState(withDeadline, { order: 'o-1' }, now);
  const step = (state: SagaState<Data>, event: SagaEvent<Data>) => transition(withDeadline, state, event, env).state;

  it('wakes a saga waiting for a reply without step timeout at the deadline, and at the earlier of retry and deadline', () => {
    expect(start.deadlineAt).toEqual(deadline);
    const waiting = step(step(step(start, ok()), ok()), { type: 'command_sent', attempt: 1, messageId: 'cmd-1', deadline: null });
    expect(waiting).toMatchObject({ status: 'AWAITING_REPLY', wakeAt: deadline });
    const lateRetry = { ...env, defaultRetry: { maxAttempts: 3, baseDelayMs: 60_000, maxDelayMs: 60_000 } };
    expect(transition(withDeadline, start, boom(1), lateRetry).state.wakeAt).toEqual(deadline);
  });

  it('compensates when the deadline passes before the pivot, the command awaiting its reply included', () => {
    const waiting = step(step(step(start, ok()), ok()), sent('cmd-1'));
    expect(deadlineExceeded(withDeadline, waiting, new Date(deadline.getTime() - 1))).toBe(false);
    expect(deadlineExceeded(withDeadline, waiting, deadline)).toBe(true);
    const { state, log } = transition(withDeadline, waiting, { type: 'deadline_exceeded' }, env);
    expect(log).toMatchObject({ step: 'charge', status: 'timed_out', failureCode: 'SAGA.DEADLINE_EXCEEDED', finished: true });
    expect(state).toMatchObject({ status: 'COMPENSATING', step: 'charge', compensations: ['reserve', 'charge'], awaitingMessageId: null, failure: { code: 'SAGA.DEADLINE_EXCEEDED' } });
    // Compensation is never cut short by the deadline.
    expect(deadlineExceeded(withDeadline, state, new Date(deadline.getTime() + 60_000))).toBe(false);
  });

  it('no longer binds once the pivot has succeeded', () => {
    const afterPivot = step(step(step(step(step(start, ok()), ok()), sent('cmd-1')), ok()), ok());
    expect(afterPivot).toMatchObject({ status: 'RUNNING', step: 'notify' });
    expect(deadlineExceeded(withDeadline, afterPivot, new Date(deadline.getTime() + 60_000))).toBe(false);
    expect(() => transition(withDeadline, afterPivot, { type: 'deadline_exceeded' }, env)).toThrow(/does not bind/);
  });
});

describe('saga state machine, operator retries', () => {
  it('resumes a COMPENSATION_FAILED saga at the failed compensation, from attempt 1, with a new command generation', () => {
    const { final } = run([ok(), ok(), sent('cmd-1'), declined, boom(1), boom(2)]);
    expect(final.status).toBe('COMPENSATION_FAILED');
    const { state, log } = operatorRetry(definition, final, now);
    expect(state).toMatchObject({ status: 'COMPENSATING', direction: 'compensate', step: 'reserve', attempt: 0, wakeAt: now, generation: 1, failure: final.failure });
    expect(log).toMatchObject({ step: 'reserve', action: 'release', status: 'retrying', finished: false });
    expect(transition(definition, state, ok(), env).state.status).toBe('COMPENSATED');
  });

  it('resumes a FAILED saga at its retriable step, and refuses anything else', () => {
    const { final } = run([ok(), ok(), sent('cmd-1'), ok(), ok(), boom(1), boom(2), boom(3)]);
    expect(operatorRetry(definition, final, now).state).toMatchObject({ status: 'RUNNING', step: 'notify', attempt: 0 });
    expect(() => operatorRetry(definition, run([ok()]).final, now)).toThrow(/only a COMPENSATION_FAILED or FAILED saga/);
  });
});
