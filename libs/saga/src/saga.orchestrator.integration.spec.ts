import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMessage, eventsMigrations, type MessageEnvelope } from '@msr/events';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { createLogger, createPool, migrate, withTransaction } from '@msr/service-defaults';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandMessageId } from './command-id.js';
import type { SagaDefinition } from './definition.js';
import { sagaMigrations } from './migrations.js';
import { PoisonMessageError } from '@msr/events';
import { SagaNotFoundError, SagaNotRetryableError } from './errors.js';
import { SagaOrchestrator, type SagaOrchestratorOptions, type SagaView } from './saga.orchestrator.js';
import { SagaConcurrencyError, sagaConflictOr, SagaRepository } from './saga.repository.js';

interface TestData {
  orderId: string;
  userId: string;
  /** reserve throws on attempts 1..flakyReserve. */
  flakyReserve?: number;
  /** reserve writes, then reports a business failure. */
  rejectReserve?: boolean;
  /** approve reports a business failure. */
  failApprove?: boolean;
  /** approve writes its effect, then reports a business failure. */
  failApproveAfterWrite?: boolean;
  /** approve runs a failing SQL statement (aborting its transaction) on attempts 1..flakyApprove. */
  flakyApprove?: number;
  /** release always throws. */
  breakRelease?: boolean;
  /** release throws on attempts 1..flakyRelease. */
  flakyRelease?: number;
  /** release throws while the saga id is in `brokenReleases` (an operator fixes it, then retries). */
  healableRelease?: boolean;
  /** reserve bumps the saga's version from another connection once, as a concurrent transition would. */
  raceReserve?: boolean;
  paymentId?: string;
}

/** Sagas whose healable release still fails. */
const brokenReleases = new Set<string>();
/** Sagas whose reserve has raced a concurrent transition already, and reserve calls per saga. */
const raced = new Set<string>();
const reserveCalls = new Map<string, number>();

const replyTopic = 'test.saga-replies';
const commandTopic = 'test.payment-commands';

/** A PlaceOrder-shaped saga over a test table `effects`: local reserve, command charge, local pivot approve. */
function testSaga(version: number, replyTimeoutMs?: number, deadlineMs?: number): SagaDefinition<TestData> {
  const effect = (tx: pg.PoolClient, sagaId: string, what: string) => tx.query('INSERT INTO effects (saga_id, effect) VALUES ($1, $2)', [sagaId, what]);
  return {
    name: 'test-order',
    version,
    ...(deadlineMs === undefined ? {} : { deadlineMs }),
    steps: [
      {
        name: 'reserve',
        kind: 'compensatable',
        action: {
          type: 'local',
          async invoke({ tx, sagaId, data, attempt }) {
            reserveCalls.set(sagaId, (reserveCalls.get(sagaId) ?? 0) + 1);
            await effect(tx, sagaId, 'reserved');
            if (data.raceReserve === true && !raced.has(sagaId)) {
              raced.add(sagaId);
              await pool.query('UPDATE saga_instances SET version = version + 1 WHERE id = $1', [sagaId]);
            }
            if (attempt <= (data.flakyReserve ?? 0)) throw new Error(`flaky attempt ${attempt}`);
            if (data.rejectReserve === true) return { status: 'failed', code: 'TEST.OUT_OF_STOCK', reason: 'nothing left' };
            return { status: 'succeeded' };
          },
        },
        compensation: {
          type: 'local',
          name: 'release',
          retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 5 },
          async invoke({ tx, sagaId, data, attempt }) {
            if (data.breakRelease === true) throw new Error('release is broken');
            if (attempt <= (data.flakyRelease ?? 0)) throw new Error(`release attempt ${attempt} failed`);
            if (data.healableRelease === true && brokenReleases.has(sagaId)) throw new Error('release is broken until fixed');
            await effect(tx, sagaId, 'released');
            return { status: 'succeeded' };
          },
        },
      },
      {
        name: 'charge',
        kind: 'compensatable',
        action: {
          type: 'command',
          ...(replyTimeoutMs === undefined ? {} : { timeoutMs: replyTimeoutMs }),
          command: ({ data }) => ({
            message: createMessage('payment.authorize', { order_id: data.orderId, user_id: data.userId, amount_cents: 100 }, { key: data.orderId }),
            topic: commandTopic,
          }),
          onReply(reply: MessageEnvelope) {
            if (reply.type === 'payment.authorized') return { status: 'succeeded', data: { paymentId: (reply as MessageEnvelope<'payment.authorized'>).payload.payment_id } };
            if (reply.type === 'payment.declined') {
              const { reason_code, reason } = (reply as MessageEnvelope<'payment.declined'>).payload;
              return { status: 'failed', code: `PAYMENT.${reason_code}`, reason };
            }
            throw new Error(`unexpected reply ${reply.type}`);
          },
        },
        compensation: {
          type: 'command',
          command: ({ data }) => ({
            message: createMessage('payment.refund', { order_id: data.orderId, reason: 'test' }, { key: data.orderId }),
            topic: commandTopic,
          }),
          onReply: () => ({ status: 'succeeded' }),
        },
      },
      {
        name: 'approve',
        kind: 'pivot',
        action: {
          type: 'local',
          async invoke({ tx, sagaId, data, attempt }) {
            if (data.failApprove === true) return { status: 'failed', code: 'TEST.NOT_APPROVED', reason: 'approval refused' };
            await effect(tx, sagaId, 'approved');
            if (attempt <= (data.flakyApprove ?? 0)) await tx.query('SELECT 1 / 0');
            if (data.failApproveAfterWrite === true) return { status: 'failed', code: 'TEST.NOT_APPROVED', reason: 'approval refused after writing' };
            return { status: 'succeeded' };
          },
        },
      },
    ],
    async onCompensated({ tx, sagaId, failure }) {
      await effect(tx, sagaId, `compensated:${failure.code}`);
    },
  };
}

const v1 = testSaga(1);
const v2WithReplyDeadline = testSaga(2, 100);
const v3WithSagaDeadline = testSaga(3, undefined, 300);
const v4WithSlowReplyDeadline = testSaga(4, 400);

/** A remote call that never answers on its own: it settles only when its signal aborts. */
const signalsSeen: AbortSignal[] = [];
const hangingCall: SagaDefinition<TestData> = {
  name: 'test-hanging-call',
  version: 1,
  steps: [
    {
      name: 'call',
      kind: 'compensatable',
      action: {
        type: 'remote',
        timeoutMs: 30,
        retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
        invoke: ({ signal }) => {
          signalsSeen.push(signal);
          return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted by the caller'))));
        },
      },
    },
    { name: 'after', kind: 'pivot', action: { type: 'local', invoke: () => Promise.resolve({ status: 'succeeded' }) } },
  ],
};

/** A remote call that waits for its saga's gate to open; counts its calls per saga. */
const gates = new Map<string, Promise<void>>();
const gatedCalls = new Map<string, number>();
const gatedCall: SagaDefinition<TestData> = {
  name: 'test-gated-call',
  version: 1,
  steps: [
    {
      name: 'call',
      kind: 'compensatable',
      action: {
        type: 'remote',
        invoke: async ({ sagaId }) => {
          gatedCalls.set(sagaId, (gatedCalls.get(sagaId) ?? 0) + 1);
          await gates.get(sagaId);
          return { status: 'succeeded' };
        },
      },
    },
    { name: 'after', kind: 'pivot', action: { type: 'local', invoke: () => Promise.resolve({ status: 'succeeded' }) } },
  ],
};

let database: TestDatabase;
let pool: pg.Pool;
const logLines: Array<{ level: string; msg: string; saga_id?: string }> = [];
const logger = createLogger({
  service: 'saga-test',
  level: 'debug',
  destination: { write: (line: string) => void logLines.push(JSON.parse(line)) },
});
let orchestrator: SagaOrchestrator;

function newOrchestrator(options: Partial<SagaOrchestratorOptions> = {}): SagaOrchestrator {
  return new SagaOrchestrator({
    pool,
    logger,
    definitions: [v1, v2WithReplyDeadline, v3WithSagaDeadline, v4WithSlowReplyDeadline, hangingCall, gatedCall],
    replyTopic,
    defaultRetry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...options,
  });
}

beforeAll(async () => {
  database = await createTestDatabase('saga');
  pool = createPool(database.url, logger);
  await migrate(pool, [eventsMigrations, sagaMigrations], logger);
  await pool.query('CREATE TABLE effects (seq bigserial PRIMARY KEY, saga_id uuid NOT NULL, effect text NOT NULL)');
  orchestrator = newOrchestrator();
});

afterAll(async () => {
  await orchestrator?.stop();
  await pool?.end();
  await database?.drop();
});

function data(extra: Partial<TestData> = {}): TestData {
  return { orderId: randomUUID(), userId: randomUUID(), ...extra };
}

async function waitForCondition(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function waitForSaga(sagaId: string, predicate: (saga: SagaView) => boolean, what: string): Promise<SagaView> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const saga = await orchestrator.get(sagaId);
    if (saga !== undefined && predicate(saga)) return saga;
    if (Date.now() > deadline) throw new Error(`saga ${sagaId} never became ${what}; last: ${JSON.stringify(saga)}`);
    await sleep(10);
  }
}

const awaiting = (direction: 'forward' | 'compensate') => (saga: SagaView) => saga.status === 'AWAITING_REPLY' && saga.direction === direction;
const hasStatus = (status: SagaView['status']) => (saga: SagaView) => saga.status === status;

/** Starts a v1 saga and waits until it awaits the payment reply (reserve done, charge sent). */
async function startAwaitingPayment(sagaId: string, input: TestData): Promise<SagaView> {
  await orchestrator.start(undefined, v1, sagaId, input);
  return waitForSaga(sagaId, awaiting('forward'), 'awaiting the payment reply');
}

async function effects(sagaId: string): Promise<string[]> {
  const { rows } = await pool.query<{ effect: string }>('SELECT effect FROM effects WHERE saga_id = $1 ORDER BY seq', [sagaId]);
  return rows.map((row) => row.effect);
}

async function outboxRow(id: string) {
  const { rows } = await pool.query<{ topic: string; type: string; headers: Record<string, string> }>('SELECT topic, type, headers FROM outbox WHERE id = $1', [id]);
  return rows[0];
}

function reply<T extends 'payment.authorized' | 'payment.declined' | 'payment.refunded'>(
  type: T,
  sagaId: string,
  causationId: string,
  payload: MessageEnvelope<T>['payload'],
): MessageEnvelope {
  return createMessage(type, payload, { key: sagaId, correlationId: sagaId, causationId });
}

function authorized(sagaId: string, saga: TestData, causationId = commandMessageId(sagaId, 'charge', 'forward')): MessageEnvelope {
  return reply('payment.authorized', sagaId, causationId, { payment_id: randomUUID(), order_id: saga.orderId, user_id: saga.userId, amount_cents: 100 });
}

function deliver(message: MessageEnvelope) {
  return withTransaction(pool, (tx) => orchestrator.handleReply(message, tx));
}

describe('SagaOrchestrator on PostgreSQL', () => {
  it('runs local steps, sends its command through the outbox and completes on the matching reply', async () => {
    const sagaId = randomUUID();
    const input = data();
    const waiting = await startAwaitingPayment(sagaId, input);

    const commandId = commandMessageId(sagaId, 'charge', 'forward');
    expect(waiting.awaitingMessageId).toBe(commandId);
    const command = await outboxRow(commandId);
    expect(command).toMatchObject({ topic: commandTopic, type: 'payment.authorize' });
    expect(command?.headers).toMatchObject({ reply_to: replyTopic, correlation_id: sagaId, message_id: commandId });

    const answer = authorized(sagaId, input);
    // The pivot, a local step, runs in the reply's transaction.
    expect(await deliver(answer)).toEqual({ outcome: 'applied', sagaId, status: 'COMPLETED' });
    const done = await waitForSaga(sagaId, hasStatus('COMPLETED'), 'COMPLETED');

    expect(await effects(sagaId)).toEqual(['reserved', 'approved']);
    expect(done.data).toMatchObject({ paymentId: (answer as MessageEnvelope<'payment.authorized'>).payload.payment_id });
    expect(done.finishedAt).not.toBeNull();
    expect(done.steps.map((step) => [step.step, step.direction, step.status, step.attempts])).toEqual([
      ['reserve', 'forward', 'succeeded', 1],
      ['charge', 'forward', 'succeeded', 1],
      ['approve', 'forward', 'succeeded', 1],
    ]);
    expect(done.steps[1]).toMatchObject({ commandMessageId: commandId, replyMessageId: answer.id });
    for (const step of done.steps) expect(step.durationMs).toBeGreaterThanOrEqual(0);
    expect(logLines.some((line) => line.msg === 'saga completed' && line.saga_id === sagaId)).toBe(true);
  });

  it('ignores a duplicated reply and a reply to a command it does not await', async () => {
    const sagaId = randomUUID();
    const input = data();
    await startAwaitingPayment(sagaId, input);
    const answer = authorized(sagaId, input);
    await deliver(answer);
    const done = await waitForSaga(sagaId, hasStatus('COMPLETED'), 'COMPLETED');

    expect(await deliver(answer)).toEqual({ outcome: 'ignored', reason: 'not_awaited' });
    expect(await deliver(authorized(sagaId, input, randomUUID()))).toEqual({ outcome: 'ignored', reason: 'not_awaited' });
    const after = await orchestrator.get(sagaId);
    expect(after?.updatedAt).toBe(done.updatedAt);
    expect(await effects(sagaId)).toEqual(['reserved', 'approved']);
    expect(logLines.some((line) => line.msg === 'reply ignored: no saga awaits it' && line.saga_id === sagaId)).toBe(true);
  });

  it('compensates only the steps that completed, and runs onCompensated, when the command is declined', async () => {
    const sagaId = randomUUID();
    const input = data();
    await startAwaitingPayment(sagaId, input);
    const declined = reply('payment.declined', sagaId, commandMessageId(sagaId, 'charge', 'forward'), {
      order_id: input.orderId,
      user_id: input.userId,
      amount_cents: 100,
      reason_code: 'INSUFFICIENT_FUNDS',
      reason: 'balance 50 < 100',
    });
    await deliver(declined);
    const done = await waitForSaga(sagaId, hasStatus('COMPENSATED'), 'COMPENSATED');

    expect(done.failure).toEqual({ code: 'PAYMENT.INSUFFICIENT_FUNDS', reason: 'balance 50 < 100', step: 'charge' });
    expect(await effects(sagaId)).toEqual(['reserved', 'released', 'compensated:PAYMENT.INSUFFICIENT_FUNDS']);
    expect(await outboxRow(commandMessageId(sagaId, 'charge', 'compensate'))).toBeUndefined();
    expect(done.steps.map((step) => `${step.step}/${step.action}/${step.direction}/${step.status}`)).toEqual([
      'reserve/reserve/forward/succeeded',
      'charge/charge/forward/failed',
      'reserve/release/compensate/succeeded',
    ]);
  });

  it('compensates in reverse: refunds through a command before releasing, when the pivot fails', async () => {
    const sagaId = randomUUID();
    const input = data({ failApprove: true });
    await startAwaitingPayment(sagaId, input);
    await deliver(authorized(sagaId, input));
    const refunding = await waitForSaga(sagaId, awaiting('compensate'), 'awaiting the refund reply');

    const refundId = commandMessageId(sagaId, 'charge', 'compensate');
    expect(refunding.currentStep).toBe('charge');
    expect(await outboxRow(refundId)).toMatchObject({ type: 'payment.refund', topic: commandTopic });
    expect(await effects(sagaId)).toEqual(['reserved']);

    await deliver(reply('payment.refunded', sagaId, refundId, { order_id: input.orderId, payment_id: randomUUID(), amount_cents: 100 }));
    const done = await waitForSaga(sagaId, hasStatus('COMPENSATED'), 'COMPENSATED');
    expect(await effects(sagaId)).toEqual(['reserved', 'released', 'compensated:TEST.NOT_APPROVED']);
    const compensations = done.steps.filter((step) => step.direction === 'compensate');
    expect(compensations.map((step) => step.step)).toEqual(['charge', 'reserve']);
    expect(Date.parse(compensations[0]!.finishedAt!)).toBeLessThanOrEqual(Date.parse(compensations[1]!.startedAt));
  });

  it('leaves nothing behind of a local step that reports a business failure', async () => {
    const sagaId = randomUUID();
    await orchestrator.start(undefined, v1, sagaId, data({ rejectReserve: true }));
    const done = await waitForSaga(sagaId, hasStatus('COMPENSATED'), 'COMPENSATED');
    expect(done.failure).toMatchObject({ code: 'TEST.OUT_OF_STOCK', step: 'reserve' });
    expect(await effects(sagaId)).toEqual(['compensated:TEST.OUT_OF_STOCK']);
  });

  it('retries a transient failure with backoff, keeping only the successful attempt', async () => {
    const sagaId = randomUUID();
    const waiting = await startAwaitingPayment(sagaId, data({ flakyReserve: 2 }));
    expect(waiting.steps[0]).toMatchObject({ step: 'reserve', status: 'succeeded', attempts: 3, lastError: 'flaky attempt 2' });
    expect(await effects(sagaId)).toEqual(['reserved']);
    expect(logLines.some((line) => line.msg === 'saga step failed; will retry' && line.saga_id === sagaId)).toBe(true);
  });

  it('compensates with the last error as the reason once retries run out', async () => {
    const sagaId = randomUUID();
    await orchestrator.start(undefined, v1, sagaId, data({ flakyReserve: 10 }));
    const done = await waitForSaga(sagaId, hasStatus('COMPENSATED'), 'COMPENSATED');
    expect(done.failure).toEqual({ code: 'SAGA.RETRIES_EXHAUSTED', reason: 'reserve failed after 3 attempt(s): flaky attempt 3', step: 'reserve' });
    expect(done.steps[0]).toMatchObject({ status: 'exhausted', attempts: 3 });
    expect(await effects(sagaId)).toEqual(['compensated:SAGA.RETRIES_EXHAUSTED']);
  });

  it('parks the saga COMPENSATION_FAILED with an error log when a compensation keeps failing', async () => {
    const sagaId = randomUUID();
    await startAwaitingPayment(sagaId, data({ breakRelease: true, failApprove: true }));
    const input = (await orchestrator.get(sagaId))!.data as TestData;
    await deliver(authorized(sagaId, input));
    await waitForSaga(sagaId, awaiting('compensate'), 'awaiting the refund reply');
    const refundId = commandMessageId(sagaId, 'charge', 'compensate');
    await deliver(reply('payment.refunded', sagaId, refundId, { order_id: input.orderId, payment_id: null, amount_cents: 0 }));

    const parked = await waitForSaga(sagaId, hasStatus('COMPENSATION_FAILED'), 'COMPENSATION_FAILED');
    expect(parked).toMatchObject({ currentStep: 'reserve', direction: 'compensate', failure: { code: 'TEST.NOT_APPROVED' } });
    expect(parked.steps.at(-1)).toMatchObject({ step: 'reserve', direction: 'compensate', status: 'exhausted', attempts: 3, lastError: 'release is broken' });
    expect(logLines.some((line) => line.level === 'error' && line.msg === 'saga parked: needs an operator' && line.saga_id === sagaId)).toBe(true);
    expect(await effects(sagaId)).toEqual(['reserved']);
  });

  it('fires a durable reply deadline, then compensates the timed-out step as well', async () => {
    const sagaId = randomUUID();
    await orchestrator.start(undefined, v2WithReplyDeadline, sagaId, data());
    const refunding = await waitForSaga(sagaId, awaiting('compensate'), 'refunding after the deadline');
    expect(refunding.failure).toMatchObject({ code: 'SAGA.STEP_TIMEOUT', step: 'charge' });
    expect(refunding.steps[1]).toMatchObject({ step: 'charge', direction: 'forward', status: 'timed_out' });
    expect(await outboxRow(commandMessageId(sagaId, 'charge', 'compensate'))).toMatchObject({ type: 'payment.refund' });

    // The late authorization is not the awaited reply any more.
    const input = refunding.data as TestData;
    expect(await deliver(authorized(sagaId, input))).toEqual({ outcome: 'ignored', reason: 'not_awaited' });
  });

  it('aborts a remote call at its timeout, retries it, then compensates with the timeout as reason', async () => {
    const sagaId = randomUUID();
    await orchestrator.start(undefined, hangingCall, sagaId, data());
    const done = await waitForSaga(sagaId, hasStatus('COMPENSATED'), 'COMPENSATED');
    expect(done.failure).toEqual({ code: 'SAGA.RETRIES_EXHAUSTED', reason: 'call failed after 2 attempt(s): step call timed out after 30 ms', step: 'call' });
    expect(done.steps).toEqual([expect.objectContaining({ step: 'call', status: 'exhausted', attempts: 2 })]);
    expect(signalsSeen.slice(-2).map((signal) => signal.aborted)).toEqual([true, true]);
  });

  it('refuses a transition from a stale version and changes nothing', async () => {
    const sagaId = randomUUID();
    await startAwaitingPayment(sagaId, data());
    const repository = new SagaRepository();
    const current = (await repository.load(pool, sagaId))!;
    const write = (attempt: number) => ({
      id: sagaId,
      expectedVersion: current.version,
      state: { ...current, attempt },
      finished: false,
      now: new Date(),
      lease: null,
      changes: [
        {
          log: { step: 'charge', action: 'charge', direction: 'forward' as const, status: 'awaiting_reply' as const, attempts: attempt, finished: false },
          at: new Date(),
          startedAt: new Date(),
          status: 'AWAITING_REPLY' as const,
          timeline: { event: 'awaiting_reply' as const },
        },
      ],
      writer: 'test',
    });

    await repository.transition(pool, write(7));
    await expect(repository.transition(pool, write(9))).rejects.toBeInstanceOf(SagaConcurrencyError);
    expect(await repository.load(pool, sagaId)).toMatchObject({ attempt: 7, version: current.version + 1 });
  });

  it('fails the COMMIT of a transaction whose transition lost the race, so nothing of it is written', async () => {
    const sagaId = randomUUID();
    await startAwaitingPayment(sagaId, data());
    const repository = new SagaRepository();
    const current = (await repository.load(pool, sagaId))!;
    const stale = { ...current, version: current.version - 1 };
    const write = {
      id: sagaId,
      expectedVersion: stale.version,
      state: { ...stale, attempt: 5 },
      finished: false,
      now: new Date(),
      lease: null,
      changes: [{ log: { step: 'charge', action: 'charge', direction: 'forward' as const, status: 'awaiting_reply' as const, attempts: 5, finished: false }, at: new Date(), startedAt: new Date(), status: 'AWAITING_REPLY' as const, timeline: { event: 'awaiting_reply' as const } }],
      writer: 'test',
    };
    const committing = withTransaction(pool, async (tx) => {
      // The transition goes out without waiting; the step's own write after it would commit with it.
      await repository.transition(tx, write);
      await tx.query("UPDATE saga_instances SET parked_reason = 'written after the transition' WHERE id = $1", [sagaId]);
    });
    const error = await committing.then(() => undefined, (failure: unknown) => failure);
    expect(sagaConflictOr(error, sagaId, stale.version)).toBeInstanceOf(SagaConcurrencyError);
    expect(await repository.load(pool, sagaId)).toMatchObject({ version: current.version, attempt: current.attempt, parkedReason: null });
  });

  it('writes several transitions as one update: a step-log row and a timeline entry for each, in order', async () => {
    const sagaId = randomUUID();
    await startAwaitingPayment(sagaId, data());
    const repository = new SagaRepository();
    const current = (await repository.load(pool, sagaId))!;
    const started = new Date(Date.now() - 50);
    const replied = new Date(Date.now() - 20);
    const approved = new Date();
    const change = (step: string, at: Date, status: 'RUNNING' | 'COMPLETED') => ({
      log: { step, action: step, direction: 'forward' as const, status: 'succeeded' as const, attempts: 1, finished: true },
      at,
      startedAt: started,
      status,
      timeline: { event: 'succeeded' as const, detail: `${step} done` },
    });

    await repository.transition(pool, {
      id: sagaId,
      expectedVersion: current.version,
      state: { ...current, status: 'COMPLETED', step: null, awaitingMessageId: null, wakeAt: null },
      finished: true,
      now: approved,
      lease: null,
      changes: [change('charge', replied, 'RUNNING'), change('approve', approved, 'COMPLETED')],
      writer: 'test',
    });

    const view = (await orchestrator.get(sagaId))!;
    expect(view).toMatchObject({ status: 'COMPLETED', finishedAt: approved.toISOString(), updatedAt: approved.toISOString() });
    expect((await repository.load(pool, sagaId))!.version).toBe(current.version + 1);
    expect(view.timeline.slice(-2)).toEqual([
      expect.objectContaining({ event: 'succeeded', step: 'charge', status: 'RUNNING', at: replied.toISOString(), detail: 'charge done', owner: 'test' }),
      expect.objectContaining({ event: 'succeeded', step: 'approve', status: 'COMPLETED', at: approved.toISOString(), detail: 'approve done', owner: 'test' }),
    ]);
    const charge = view.steps.find((step) => step.step === 'charge')!;
    // The charge row existed (awaiting its reply): its start is kept, its end and duration set.
    expect(charge).toMatchObject({ status: 'succeeded', finishedAt: replied.toISOString() });
    expect(charge.durationMs).toBe(Date.parse(replied.toISOString()) - Date.parse(charge.startedAt));
    expect(view.steps.find((step) => step.step === 'approve')).toMatchObject({
      status: 'succeeded',
      startedAt: started.toISOString(),
      finishedAt: approved.toISOString(),
      durationMs: approved.getTime() - started.getTime(),
    });
  });

  it('refuses a write without transitions, or one that changes a step log twice in the same direction', async () => {
    const sagaId = randomUUID();
    await startAwaitingPayment(sagaId, data());
    const repository = new SagaRepository();
    const current = (await repository.load(pool, sagaId))!;
    const log = { step: 'charge', action: 'charge', direction: 'forward' as const, status: 'retrying' as const, attempts: 1, finished: false };
    const change = { log, at: new Date(), startedAt: new Date(), status: 'RUNNING' as const, timeline: { event: 'retrying' as const } };
    const write = { id: sagaId, expectedVersion: current.version, state: current, finished: false, now: new Date(), lease: null, writer: 'test' };

    await expect(repository.transition(pool, { ...write, changes: [] })).rejects.toThrow('at least one transition');
    await expect(repository.transition(pool, { ...write, changes: [change, change] })).rejects.toThrow('twice');
    expect((await repository.load(pool, sagaId))!.version).toBe(current.version);
  });

  it('lets exactly one of two concurrent deliveries of the same reply apply it', async () => {
    const sagaId = randomUUID();
    const input = data();
    await startAwaitingPayment(sagaId, input);
    const answer = authorized(sagaId, input);
    const outcomes = await Promise.all([deliver(answer), deliver(answer)]);
    expect(outcomes.map((outcome) => outcome.outcome).sort()).toEqual(['applied', 'ignored']);
    await waitForSaga(sagaId, hasStatus('COMPLETED'), 'COMPLETED');
    expect(await effects(sagaId)).toEqual(['reserved', 'approved']);
  });
});

describe('saga recovery', () => {
  /** Starts a saga the way a process that died right after committing it leaves it: leased to the dead process, never driven. */
  async function leftByACrash(definition: SagaDefinition<TestData>, input: TestData, leaseMs: number): Promise<string> {
    const crashed = newOrchestrator({ leaseMs, instanceId: `crashed-${randomUUID()}` });
    const sagaId = randomUUID();
    await withTransaction(pool, async (tx) => {
      await crashed.start(tx, definition, sagaId, input);
      // The process dies after the commit but before its driver sees the saga.
      await crashed.stop();
    });
    return sagaId;
  }

  it('resumes a saga left RUNNING by a crashed process once its lease expires', async () => {
    const sagaId = await leftByACrash(v1, data(), 1_500);
    expect(await orchestrator.get(sagaId)).toMatchObject({ status: 'RUNNING', currentStep: 'reserve', steps: [], owner: expect.stringMatching(/^crashed-/) });

    const restarted = newOrchestrator();
    try {
      // Still leased by the dead process: another instance keeps its hands off until the lease expires.
      expect(await restarted.resume({ graceMs: 0 })).toBe(0);
      await waitForCondition('the lease to expire and recovery to take the saga', async () => (await restarted.resume({ graceMs: 0 })) >= 1);
      const resumed = await waitForSaga(sagaId, awaiting('forward'), 'awaiting the payment reply');
      expect(resumed.steps[0]).toMatchObject({ step: 'reserve', status: 'succeeded', attempts: 1 });
      expect(resumed.timeline.map((entry) => entry.owner)).toContain(restarted.instanceId);
      expect(await effects(sagaId)).toEqual(['reserved']);
    } finally {
      await restarted.stop();
    }
  });

  it('resumes due sagas periodically once recovery is started', async () => {
    const sagaId = await leftByACrash(v1, data(), 100);
    const restarted = new SagaOrchestrator({ pool, logger, definitions: [v1], replyTopic, recoveryGraceMs: 0 });
    try {
      restarted.startRecovery(20);
      await waitForSaga(sagaId, awaiting('forward'), 'awaiting the payment reply');
    } finally {
      await restarted.stop();
    }
  });

  it('never lets two instances run the same step at once, and releases its leases on stop', async () => {
    const sagaId = randomUUID();
    let open!: () => void;
    gates.set(sagaId, new Promise((resolve) => (open = resolve)));
    const first = newOrchestrator({ leaseMs: 300 });
    const second = newOrchestrator({ leaseMs: 300 });
    try {
      await first.start(undefined, gatedCall, sagaId, data());
      await waitForCondition('the first instance to call', async () => gatedCalls.get(sagaId) === 1);
      // Longer than the lease: the first instance renews it while its call is in flight.
      await sleep(700);
      expect(await second.resume({ graceMs: 0 })).toBe(0);
      expect(gatedCalls.get(sagaId)).toBe(1);
      expect((await orchestrator.get(sagaId))?.owner).toBe(first.instanceId);

      open();
      const done = await waitForSaga(sagaId, hasStatus('COMPLETED'), 'COMPLETED');
      expect(gatedCalls.get(sagaId)).toBe(1);
      expect(done.owner).toBeNull();
    } finally {
      open();
      await Promise.all([first.stop(), second.stop()]);
    }
  });

  it('leaves a saga waiting for a reply without deadline alone', async () => {
    const sagaId = randomUUID();
    const before = await startAwaitingPayment(sagaId, data());
    const restarted = newOrchestrator();
    try {
      await restarted.resume({ graceMs: 0 });
      expect((await orchestrator.get(sagaId))?.updatedAt).toBe(before.updatedAt);
    } finally {
      await restarted.stop();
    }
  });

  it('creates no saga when the caller transaction rolls back', async () => {
    const sagaId = randomUUID();
    await expect(
      withTransaction(pool, async (tx) => {
        await orchestrator.start(tx, v1, sagaId, data());
        throw new Error('order insert failed');
      }),
    ).rejects.toThrow('order insert failed');
    expect(await orchestrator.get(sagaId)).toBeUndefined();
    expect(await effects(sagaId)).toEqual([]);
  });

  it('drives a saga right after the caller commits when given a commit hook', async () => {
    const sagaId = randomUUID();
    const callbacks: Array<() => void> = [];
    await withTransaction(pool, (tx) => orchestrator.start(tx, v1, sagaId, data(), { afterCommit: (callback) => void callbacks.push(callback) }));
    expect(callbacks).toHaveLength(1);
    expect((await orchestrator.get(sagaId))?.steps).toEqual([]);

    callbacks.forEach((callback) => callback());

    await waitForSaga(sagaId, awaiting('forward'), 'awaiting the payment reply');
  });
});

describe('versioned definitions', () => {
  it('parks a saga of a version this process does not know instead of running it, and resumes it where the version is known', async () => {
    const sagaId = await leftByACrashOf(v1);
    const onlyV2 = new SagaOrchestrator({ pool, logger, definitions: [v2WithReplyDeadline], replyTopic, recoveryGraceMs: 0 });
    try {
      await onlyV2.resume({ graceMs: 0 });
      const parked = await waitForSaga(sagaId, (saga) => saga.parkedAt !== null, 'parked');
      expect(parked).toMatchObject({ status: 'RUNNING', currentStep: 'reserve', steps: [], parkedReason: expect.stringMatching(/^SAGA.UNKNOWN_DEFINITION: test-order@1/) });
      expect(parked.timeline.map((entry) => entry.event)).toEqual(['started', 'parked']);
      expect(await effects(sagaId)).toEqual([]);
      expect(logLines.some((line) => line.level === 'error' && line.saga_id === sagaId && line.msg.startsWith('saga parked'))).toBe(true);
      // Parked sagas are not picked up again and again.
      expect(await onlyV2.resume({ graceMs: 0 })).toBe(0);
    } finally {
      await onlyV2.stop();
    }

    const knowsV1 = newOrchestrator();
    try {
      await knowsV1.resume({ graceMs: 0 });
      const resumed = await waitForSaga(sagaId, awaiting('forward'), 'awaiting the payment reply');
      expect(resumed.parkedAt).toBeNull();
      expect(resumed.timeline.map((entry) => entry.event)).toEqual(['started', 'parked', 'unparked', 'succeeded', 'awaiting_reply']);
    } finally {
      await knowsV1.stop();
    }
  });

  it('refuses a reply for a saga of an unknown version as a poison message and parks the saga', async () => {
    const sagaId = randomUUID();
    const input = data();
    await startAwaitingPayment(sagaId, input);
    const onlyV2 = new SagaOrchestrator({ pool, logger, definitions: [v2WithReplyDeadline], replyTopic });
    try {
      await expect(withTransaction(pool, (tx) => onlyV2.handleReply(authorized(sagaId, input), tx))).rejects.toBeInstanceOf(PoisonMessageError);
      await waitForSaga(sagaId, (saga) => saga.parkedAt !== null, 'parked');
    } finally {
      await onlyV2.stop();
    }
    expect(await orchestrator.get(sagaId)).toMatchObject({ status: 'AWAITING_REPLY', currentStep: 'charge' });
  });

  async function leftByACrashOf(definition: SagaDefinition<TestData>): Promise<string> {
    const sagaId = randomUUID();
    const crashed = newOrchestrator({ leaseMs: 1 });
    await withTransaction(pool, async (tx) => {
      await crashed.start(tx, definition, sagaId, data());
      await crashed.stop();
    });
    await waitForCondition('the dead process lease to expire', async () => (await pool.query('SELECT 1 FROM saga_instances WHERE id = $1 AND lease_until < now()', [sagaId])).rowCount === 1);
    return sagaId;
  }
});

describe('durable timers and reply ordering', () => {
  it('compensates a saga whose deadline passes while it waits for a reply, even across a restart', async () => {
    const first = newOrchestrator();
    const sagaId = randomUUID();
    await first.start(undefined, v3WithSagaDeadline, sagaId, data());
    const waiting = await waitForSaga(sagaId, awaiting('forward'), 'awaiting the payment reply');
    // The saga wakes at its deadline even though the step itself has no reply timeout.
    expect(waiting.wakeAt).toBe(waiting.deadlineAt);
    expect(Date.parse(waiting.deadlineAt!) - Date.parse(waiting.createdAt)).toBe(300);
    // The process goes away with its in-memory timer; the deadline lives in the database.
    await first.stop();

    const restarted = newOrchestrator({ recoveryGraceMs: 0 });
    try {
      restarted.startRecovery(20);
      const refunding = await waitForSaga(sagaId, awaiting('compensate'), 'refunding after the saga deadline');
      expect(refunding.failure).toMatchObject({ code: 'SAGA.DEADLINE_EXCEEDED', step: 'charge' });
      expect(refunding.steps[1]).toMatchObject({ step: 'charge', direction: 'forward', status: 'timed_out', failureCode: 'SAGA.DEADLINE_EXCEEDED' });
      // Compensation is not cut short by the deadline: it waits for the refund as long as it takes.
      expect(refunding.wakeAt).toBeNull();
      expect(await outboxRow(commandMessageId(sagaId, 'charge', 'compensate'))).toMatchObject({ type: 'payment.refund' });
    } finally {
      await restarted.stop();
    }
  });

  it('lets a reply and its racing timer both try, and applies exactly one: the reply when it commits first', async () => {
    const sagaId = randomUUID();
    const input = data();
    await orchestrator.start(undefined, v4WithSlowReplyDeadline, sagaId, input);
    const waiting = await waitForSaga(sagaId, awaiting('forward'), 'awaiting the payment reply');
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      expect(await orchestrator.handleReply(authorized(sagaId, input), client)).toMatchObject({ outcome: 'applied' });
      // The reply's transaction is still open when the reply deadline fires: the timer waits on the saga's row.
      await waitForCondition('the timer to fire and wait for the row', async () => {
        const { rows } = await pool.query<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return Date.now() > Date.parse(waiting.wakeAt!) && rows[0]!.waiting > 0;
      });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const done = await waitForSaga(sagaId, hasStatus('COMPLETED'), 'COMPLETED');
    expect(done.steps.find((step) => step.step === 'charge')).toMatchObject({ status: 'succeeded' });
    expect(done.timeline.map((entry) => entry.event)).not.toContain('timed_out');
    expect(await effects(sagaId)).toEqual(['reserved', 'approved']);
  });

  it('ignores a reply that loses the race to its timer, and a late reply reordered after the compensation reply', async () => {
    const sagaId = randomUUID();
    const input = data();
    await orchestrator.start(undefined, v2WithReplyDeadline, sagaId, input);
    await waitForSaga(sagaId, awaiting('compensate'), 'refunding after the reply deadline');
    const refund = reply('payment.refunded', sagaId, commandMessageId(sagaId, 'charge', 'compensate'), { order_id: input.orderId, payment_id: randomUUID(), amount_cents: 100 });
    const late = authorized(sagaId, input);

    // The refund's reply overtakes the authorization's: it is applied, the authorization is not.
    expect(await deliver(refund)).toMatchObject({ outcome: 'applied' });
    expect(await deliver(late)).toEqual({ outcome: 'ignored', reason: 'not_awaited' });

    const done = await waitForSaga(sagaId, hasStatus('COMPENSATED'), 'COMPENSATED');
    expect(await effects(sagaId)).toEqual(['reserved', 'released', 'compensated:SAGA.STEP_TIMEOUT']);
    expect(done.timeline.filter((entry) => entry.event === 'reply_ignored')).toEqual([
      expect.objectContaining({ messageId: late.id, messageType: 'payment.authorized', detail: expect.stringMatching(/no step awaits/) }),
    ]);
  });
});

describe('compensation that must finish', () => {
  it('retries a compensation that fails twice, then compensates', async () => {
    const sagaId = randomUUID();
    await startAwaitingPayment(sagaId, data({ flakyRelease: 2, rejectReserve: false, failApprove: true }));
    const input = (await orchestrator.get(sagaId))!.data as TestData;
    await deliver(authorized(sagaId, input));
    await waitForSaga(sagaId, awaiting('compensate'), 'awaiting the refund reply');
    await deliver(reply('payment.refunded', sagaId, commandMessageId(sagaId, 'charge', 'compensate'), { order_id: input.orderId, payment_id: null, amount_cents: 0 }));

    const done = await waitForSaga(sagaId, hasStatus('COMPENSATED'), 'COMPENSATED');
    expect(done.steps.at(-1)).toMatchObject({ step: 'reserve', action: 'release', direction: 'compensate', status: 'succeeded', attempts: 3, lastError: 'release attempt 2 failed' });
    const releases = done.timeline.filter((entry) => entry.action === 'release');
    expect(releases.map((entry) => [entry.event, entry.attempt])).toEqual([
      ['retrying', 1],
      ['retrying', 2],
      ['succeeded', 3],
    ]);
    expect(await effects(sagaId)).toEqual(['reserved', 'released', 'compensated:TEST.NOT_APPROVED']);
  });

  it('lets an operator retry a COMPENSATION_FAILED saga once the cause is fixed', async () => {
    const sagaId = randomUUID();
    brokenReleases.add(sagaId);
    await startAwaitingPayment(sagaId, data({ healableRelease: true, failApprove: true }));
    const input = (await orchestrator.get(sagaId))!.data as TestData;
    await deliver(authorized(sagaId, input));
    await waitForSaga(sagaId, awaiting('compensate'), 'awaiting the refund reply');
    await deliver(reply('payment.refunded', sagaId, commandMessageId(sagaId, 'charge', 'compensate'), { order_id: input.orderId, payment_id: null, amount_cents: 0 }));
    const parked = await waitForSaga(sagaId, hasStatus('COMPENSATION_FAILED'), 'COMPENSATION_FAILED');
    expect(parked).toMatchObject({ currentStep: 'reserve', direction: 'compensate' });
    expect(logLines.some((line) => line.level === 'error' && line.msg === 'saga parked: needs an operator' && line.saga_id === sagaId)).toBe(true);

    await expect(orchestrator.retry(randomUUID())).rejects.toBeInstanceOf(SagaNotFoundError);
    brokenReleases.delete(sagaId);
    expect(await orchestrator.retry(sagaId)).toBe('COMPENSATING');

    const done = await waitForSaga(sagaId, hasStatus('COMPENSATED'), 'COMPENSATED');
    expect(done).toMatchObject({ generation: 1, failure: { code: 'TEST.NOT_APPROVED' }, finishedAt: expect.any(String) });
    expect(await effects(sagaId)).toEqual(['reserved', 'released', 'compensated:TEST.NOT_APPROVED']);
    expect(done.timeline.map((entry) => entry.event)).toContain('retried');
    await expect(orchestrator.retry(sagaId)).rejects.toBeInstanceOf(SagaNotRetryableError);
  });
});

describe('one transaction per transition', () => {
  it('writes a reply and the local step it leads to as one saga update, committed or rolled back with the caller', async () => {
    const sagaId = randomUUID();
    const input = data();
    const waiting = await startAwaitingPayment(sagaId, input);
    const versionBefore = (await new SagaRepository().load(pool, sagaId))!.version;

    const answer = authorized(sagaId, input);
    const refused = withTransaction(pool, async (tx) => {
      await orchestrator.handleReply(answer, tx);
      throw new Error('the caller rolls back');
    });
    await expect(refused).rejects.toThrow('the caller rolls back');
    expect(await effects(sagaId)).toEqual(['reserved']);
    expect(await orchestrator.get(sagaId)).toMatchObject({ status: 'AWAITING_REPLY', steps: waiting.steps, timeline: waiting.timeline });

    await deliver(answer);
    const done = await orchestrator.get(sagaId);
    expect(done).toMatchObject({ status: 'COMPLETED' });
    expect(await effects(sagaId)).toEqual(['reserved', 'approved']);
    expect((await new SagaRepository().load(pool, sagaId))!.version).toBe(versionBefore + 1);
    expect(done!.timeline.slice(-2).map((entry) => [entry.event, entry.step, entry.status])).toEqual([
      ['succeeded', 'charge', 'RUNNING'],
      ['succeeded', 'approve', 'COMPLETED'],
    ]);
  });

  it("undoes only a chained local step's own writes when it fails after writing, keeping the caller's", async () => {
    const sagaId = randomUUID();
    const input = data({ failApproveAfterWrite: true });
    await startAwaitingPayment(sagaId, input);

    const outcome = await withTransaction(pool, async (tx) => {
      await tx.query(`INSERT INTO effects (saga_id, effect) VALUES ($1, 'caller')`, [sagaId]);
      return orchestrator.handleReply(authorized(sagaId, input), tx);
    });
    // The refund is a command: it is sent in the same transaction, and the saga awaits its reply.
    expect(outcome).toEqual({ outcome: 'applied', sagaId, status: 'AWAITING_REPLY' });
    expect(await effects(sagaId)).toEqual(['reserved', 'caller']);
    const refunding = (await orchestrator.get(sagaId))!;
    expect(refunding).toMatchObject({ direction: 'compensate', currentStep: 'charge', failure: { code: 'TEST.NOT_APPROVED' } });
    expect(await outboxRow(commandMessageId(sagaId, 'charge', 'compensate'))).toMatchObject({ type: 'payment.refund' });
  });

  it('recovers the transaction from a chained local step whose statement failed, and retries the step', async () => {
    const sagaId = randomUUID();
    const input = data({ flakyApprove: 1 });
    await startAwaitingPayment(sagaId, input);

    expect(await deliver(authorized(sagaId, input))).toEqual({ outcome: 'applied', sagaId, status: 'RUNNING' });
    const done = await waitForSaga(sagaId, hasStatus('COMPLETED'), 'COMPLETED');
    expect(await effects(sagaId)).toEqual(['reserved', 'approved']);
    expect(done.steps.find((step) => step.step === 'approve')).toMatchObject({ status: 'succeeded', attempts: 2, lastError: 'division by zero' });
    expect(done.steps.find((step) => step.step === 'charge')).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('starts a retry that is due at once only after the reply has committed, however late the caller commits', async () => {
    const sagaId = randomUUID();
    const input = data({ flakyApprove: 1 });
    await startAwaitingPayment(sagaId, input);

    const outcome = await withTransaction(pool, async (tx) => {
      const applied = await orchestrator.handleReply(authorized(sagaId, input), tx);
      // The caller commits well after the approve's retry fell due (its backoff is 1 ms).
      await sleep(100);
      return applied;
    });
    expect(outcome).toEqual({ outcome: 'applied', sagaId, status: 'RUNNING' });
    const done = await waitForSaga(sagaId, hasStatus('COMPLETED'), 'COMPLETED');
    expect(done.steps.find((step) => step.step === 'approve')).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('rolls a local step back with its transition when a concurrent transition wins, and runs it again', async () => {
    const sagaId = randomUUID();
    const waiting = await startAwaitingPayment(sagaId, data({ raceReserve: true }));
    expect(reserveCalls.get(sagaId)).toBe(2);
    // The first attempt's write went with its refused transition; only the second one's is there.
    expect(await effects(sagaId)).toEqual(['reserved']);
    expect(waiting.steps[0]).toMatchObject({ step: 'reserve', status: 'succeeded', attempts: 1 });
  });
});

describe('retry policies', () => {
  it('never retries an error its action refuses as retryable', async () => {
    const refusing: SagaDefinition<TestData> = {
      name: 'test-refusing',
      version: 1,
      steps: [
        {
          name: 'check',
          kind: 'pivot',
          action: {
            type: 'local',
            retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 1 },
            retryable: (error) => !(error instanceof TypeError),
            invoke: () => Promise.reject(new TypeError('a bug, not a blip')),
          },
        },
      ],
    };
    const local = new SagaOrchestrator({ pool, logger, definitions: [refusing], replyTopic });
    const sagaId = randomUUID();
    try {
      await local.start(undefined, refusing, sagaId, data());
      await waitForCondition('the saga to give up', async () => (await local.get(sagaId))?.status === 'COMPENSATED');
      expect((await local.get(sagaId))?.steps).toEqual([expect.objectContaining({ step: 'check', status: 'exhausted', attempts: 1, lastError: 'a bug, not a blip' })]);
    } finally {
      await local.stop();
    }
  });
});

describe('metrics', () => {
  it('counts sagas by status and the stuck ones, read from the database at scrape time', async () => {
    const registry = new Registry();
    const observed = new SagaOrchestrator({ pool, logger, definitions: [v1], replyTopic, metricsRegistry: registry, stuckAfterMs: 1 });
    const sagaId = randomUUID();
    try {
      await observed.start(undefined, v1, sagaId, data());
      await waitForSaga(sagaId, awaiting('forward'), 'awaiting the payment reply');
      await waitForCondition('the saga to be unchanged for a while', async () => Date.now() - Date.parse((await orchestrator.get(sagaId))!.updatedAt) > 5);

      const byStatus = (await registry.getSingleMetric('saga_instances')!.get()).values;
      expect(byStatus).toContainEqual({ labels: { saga: 'test-order', status: 'AWAITING_REPLY' }, value: expect.any(Number) });
      expect(byStatus).toContainEqual({ labels: { saga: 'test-order', status: 'COMPLETED' }, value: expect.any(Number) });
      const stuck = (await registry.getSingleMetric('saga_stuck')!.get()).values;
      expect(stuck.find((entry) => entry.labels['saga'] === 'test-order')?.value).toBeGreaterThanOrEqual(1);
      expect((await registry.getSingleMetric('saga_started_total')!.get()).values).toEqual([{ labels: { saga: 'test-order' }, value: 1 }]);
    } finally {
      await observed.stop();
    }
  });
});

describe('the query API', () => {
  it('lists sagas by status, type and age', async () => {
    const sagaId = randomUUID();
    await startAwaitingPayment(sagaId, data());

    const awaitingReplies = await orchestrator.list({ status: 'AWAITING_REPLY', type: 'test-order' });
    expect(awaitingReplies.map((saga) => saga.id)).toContain(sagaId);
    expect(awaitingReplies.every((saga) => saga.status === 'AWAITING_REPLY' && saga.definitionName === 'test-order')).toBe(true);
    expect((await orchestrator.list({ status: 'COMPLETED' })).map((saga) => saga.id)).not.toContain(sagaId);
    expect((await orchestrator.list({ status: 'AWAITING_REPLY', olderThanMs: 60_000 })).map((saga) => saga.id)).not.toContain(sagaId);
    expect(await orchestrator.list({ type: 'no-such-saga' })).toEqual([]);
  });
});
