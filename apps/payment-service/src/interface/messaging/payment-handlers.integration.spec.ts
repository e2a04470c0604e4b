import { randomUUID } from 'node:crypto';
import { createMessage, eventsMigrations, Topics, type MessageEnvelope } from '@msr/events';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { createLogger, createPool, migrate, withTransaction } from '@msr/service-defaults';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAccount } from '../../application/get-account.use-case.js';
import { Money } from '../../domain/money.value-object.js';
import { paymentServiceMigrations } from '../../infrastructure/payment-service.migrations.js';
import { pgRepositories } from '../../infrastructure/pg-repositories.js';
import { authorizePaymentHandler, refundPaymentHandler } from './payment-commands.handler.js';
import { userCreatedHandler } from './user-events.handler.js';

interface OutboxRow {
  id: string;
  topic: string;
  key: string;
  type: string;
  headers: Record<string, string>;
  payload: Record<string, unknown>;
}

let database: TestDatabase;
let pool: pg.Pool;
const logger = createLogger({ service: 'payment-service-test', level: 'silent' });
const onUserCreated = userCreatedHandler(Money.ofCents(5_000), logger);
const onAuthorize = authorizePaymentHandler({ logger, eventsTopic: Topics.paymentEvents });
const onRefund = refundPaymentHandler({ logger, eventsTopic: Topics.paymentEvents });
const replyTopic = 'test.payment-replies';

beforeAll(async () => {
  database = await createTestDatabase('payment_handlers');
  pool = createPool(database.url, logger);
  await migrate(pool, [eventsMigrations, paymentServiceMigrations], logger);
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

async function userWithAccount(): Promise<string> {
  const userId = randomUUID();
  const event = createMessage(
    'user.created',
    { user_id: userId, email: `${userId}@example.com`, name: 'Ada', status: 'pending', created_at: new Date().toISOString() },
    { key: userId },
  );
  await withTransaction(pool, (tx) => onUserCreated(event, tx));
  return userId;
}

function authorizeCommand(orderId: string, userId: string, amountCents: number, replyTo: string | null = replyTopic) {
  const sagaId = randomUUID();
  return createMessage('payment.authorize', { order_id: orderId, user_id: userId, amount_cents: amountCents }, {
    key: orderId,
    correlationId: sagaId,
    ...(replyTo === null ? {} : { replyTo }),
  });
}

function refundCommand(orderId: string) {
  return createMessage('payment.refund', { order_id: orderId, reason: 'order rejected' }, { key: orderId, correlationId: randomUUID(), replyTo: replyTopic });
}

const handle = <T extends 'payment.authorize' | 'payment.refund'>(command: MessageEnvelope<T>) =>
  withTransaction(pool, (tx) =>
    command.type === 'payment.authorize'
      ? onAuthorize(command as MessageEnvelope<'payment.authorize'>, tx)
      : onRefund(command as MessageEnvelope<'payment.refund'>, tx),
  );

async function outboxCausedBy(command: MessageEnvelope): Promise<OutboxRow[]> {
  const { rows } = await pool.query<OutboxRow>(
    `SELECT id, topic, key, type, headers, payload FROM outbox WHERE headers->>'causation_id' = $1 ORDER BY seq`,
    [command.id],
  );
  return rows;
}

const balanceOf = async (userId: string) => (await getAccount(pgRepositories(pool).accounts, userId)).balance.cents;

describe('user.created', () => {
  it('opens an account with the starting balance, once per user', async () => {
    const userId = await userWithAccount();
    const again = createMessage(
      'user.created',
      { user_id: userId, email: 'x@example.com', name: 'Ada', status: 'pending', created_at: new Date().toISOString() },
      { key: userId },
    );
    await withTransaction(pool, (tx) => pgRepositories(tx).accounts.debitIfCovered(userId, Money.ofCents(1_000), new Date()));
    await withTransaction(pool, (tx) => onUserCreated(again, tx));
    expect(await balanceOf(userId)).toBe(4_000);
  });
});

describe('payment.authorize', () => {
  it('replies payment.authorized on the reply topic and announces it on payment.events', async () => {
    const userId = await userWithAccount();
    const orderId = randomUUID();
    const command = authorizeCommand(orderId, userId, 1_500);
    await handle(command);

    const rows = await outboxCausedBy(command);
    expect(rows.map((row) => [row.topic, row.type])).toEqual([
      [replyTopic, 'payment.authorized'],
      [Topics.paymentEvents, 'payment.authorized'],
    ]);
    const [reply, event] = rows as [OutboxRow, OutboxRow];
    expect(reply.id).not.toBe(event.id);
    expect(reply.key).toBe(orderId);
    expect(reply.headers).toMatchObject({ event_type: 'payment.authorized', correlation_id: command.correlation_id, causation_id: command.id });
    expect(reply.payload).toEqual({ payment_id: expect.any(String), order_id: orderId, user_id: userId, amount_cents: 1_500 });
    expect(event.payload).toEqual(reply.payload);
    expect(await balanceOf(userId)).toBe(3_500);
  });

  it('answers a second command for the same order with the first outcome, debiting once', async () => {
    const userId = await userWithAccount();
    const orderId = randomUUID();
    const first = authorizeCommand(orderId, userId, 1_500);
    const second = authorizeCommand(orderId, userId, 1_500);
    await handle(first);
    await handle(second);

    const [firstReply] = await outboxCausedBy(first);
    const secondRows = await outboxCausedBy(second);
    expect(secondRows.map((row) => [row.topic, row.type])).toEqual([[replyTopic, 'payment.authorized']]);
    expect(secondRows[0]?.payload).toEqual(firstReply?.payload);
    expect(await balanceOf(userId)).toBe(3_500);
  });

  it('replies payment.declined with INSUFFICIENT_FUNDS when the balance is short', async () => {
    const userId = await userWithAccount();
    const orderId = randomUUID();
    const command = authorizeCommand(orderId, userId, 5_001);
    await handle(command);

    const rows = await outboxCausedBy(command);
    expect(rows.map((row) => [row.topic, row.type])).toEqual([
      [replyTopic, 'payment.declined'],
      [Topics.paymentEvents, 'payment.declined'],
    ]);
    expect(rows[0]?.payload).toEqual({
      order_id: orderId,
      user_id: userId,
      amount_cents: 5_001,
      reason_code: 'INSUFFICIENT_FUNDS',
      reason: expect.stringContaining('5000'),
    });
    expect(await balanceOf(userId)).toBe(5_000);
  });

  it('replies payment.declined with ACCOUNT_NOT_FOUND for an unknown user, on order.saga-replies when no reply_to was given', async () => {
    const command = authorizeCommand(randomUUID(), randomUUID(), 100, null);
    await handle(command);

    const [reply] = await outboxCausedBy(command);
    expect(reply?.topic).toBe(Topics.orderSagaReplies);
    expect(reply?.payload).toMatchObject({ reason_code: 'ACCOUNT_NOT_FOUND' });
  });
});

describe('payment.refund', () => {
  it('credits back once and replies payment.refunded each time', async () => {
    const userId = await userWithAccount();
    const orderId = randomUUID();
    await handle(authorizeCommand(orderId, userId, 1_500));
    const first = refundCommand(orderId);
    const second = refundCommand(orderId);
    await handle(first);
    await handle(second);

    const firstRows = await outboxCausedBy(first);
    expect(firstRows.map((row) => [row.topic, row.type])).toEqual([
      [replyTopic, 'payment.refunded'],
      [Topics.paymentEvents, 'payment.refunded'],
    ]);
    expect(firstRows[0]?.payload).toEqual({ order_id: orderId, payment_id: expect.any(String), amount_cents: 1_500 });
    const secondRows = await outboxCausedBy(second);
    expect(secondRows.map((row) => row.topic)).toEqual([replyTopic]);
    expect(secondRows[0]?.payload).toEqual(firstRows[0]?.payload);
    expect(await balanceOf(userId)).toBe(5_000);
  });

  it('replies payment_id null and amount 0 when nothing was authorized', async () => {
    const userId = await userWithAccount();
    const declinedOrder = randomUUID();
    await handle(authorizeCommand(declinedOrder, userId, 9_999));
    for (const orderId of [declinedOrder, randomUUID()]) {
      const command = refundCommand(orderId);
      await handle(command);
      const rows = await outboxCausedBy(command);
      expect(rows.map((row) => row.topic)).toEqual([replyTopic]);
      expect(rows[0]?.payload).toEqual({ order_id: orderId, payment_id: null, amount_cents: 0 });
    }
    expect(await balanceOf(userId)).toBe(5_000);
  });

  it('remembers a refund that overtook its authorize: the late authorize is declined ORDER_CANCELLED and debits nothing', async () => {
    const userId = await userWithAccount();
    const orderId = randomUUID();
    await handle(refundCommand(orderId));

    const late = authorizeCommand(orderId, userId, 1_500);
    await handle(late);

    const rows = await outboxCausedBy(late);
    expect(rows.map((row) => [row.topic, row.type])).toEqual([
      [replyTopic, 'payment.declined'],
      [Topics.paymentEvents, 'payment.declined'],
    ]);
    expect(rows[0]?.payload).toMatchObject({ order_id: orderId, reason_code: 'ORDER_CANCELLED', amount_cents: 1_500 });
    expect(await balanceOf(userId)).toBe(5_000);
    // A refund after that finds a declined payment: still nothing to refund, nothing credited.
    const again = refundCommand(orderId);
    await handle(again);
    expect((await outboxCausedBy(again))[0]?.payload).toEqual({ order_id: orderId, payment_id: null, amount_cents: 0 });
    expect(await balanceOf(userId)).toBe(5_000);
  });
});
