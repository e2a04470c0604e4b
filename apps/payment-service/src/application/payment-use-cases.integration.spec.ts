import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { createLogger, createPool, migrate, withTransaction } from '@msr/service-defaults';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Money } from '../domain/money.value-object.js';
import { paymentServiceMigrations } from '../infrastructure/payment-service.migrations.js';
import { pgRepositories } from '../infrastructure/pg-repositories.js';
import { authorizePayment, type AuthorizePaymentInput } from './authorize-payment.use-case.js';
import { getAccount } from './get-account.use-case.js';
import { getPayment } from './get-payment.use-case.js';
import { listPayments } from './list-payments.use-case.js';
import { openAccount } from './open-account.use-case.js';
import { refundPayment } from './refund-payment.use-case.js';

let database: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  database = await createTestDatabase('payment_use_cases');
  const logger = createLogger({ service: 'payment-service-test', level: 'silent' });
  pool = createPool(database.url, logger, 20);
  await migrate(pool, [paymentServiceMigrations], logger);
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

const repositories = () => pgRepositories(pool);
const authorize = (input: AuthorizePaymentInput) => withTransaction(pool, (tx) => authorizePayment(pgRepositories(tx), input));
const refund = (orderId: string) => withTransaction(pool, (tx) => refundPayment(pgRepositories(tx), { orderId }));
const balanceOf = async (userId: string) => (await getAccount(repositories().accounts, userId)).balance.cents;

async function newAccount(balanceCents: number): Promise<string> {
  const userId = randomUUID();
  await withTransaction(pool, (tx) => openAccount(pgRepositories(tx).accounts, { userId, startingBalance: Money.ofCents(balanceCents) }));
  return userId;
}

describe('open account', () => {
  it('opens an account once per user and leaves an existing balance alone', async () => {
    const userId = randomUUID();
    const first = await openAccount(repositories().accounts, { userId, startingBalance: Money.ofCents(50_000) });
    expect(first.opened).toBe(true);
    await authorize({ orderId: randomUUID(), userId, amountCents: 1_000 });

    const second = await openAccount(repositories().accounts, { userId, startingBalance: Money.ofCents(50_000) });
    expect(second.opened).toBe(false);
    expect(second.account.balance.cents).toBe(49_000);
    expect(await balanceOf(userId)).toBe(49_000);
  });
});

describe('authorize payment', () => {
  it('debits the account and records an AUTHORIZED payment', async () => {
    const userId = await newAccount(5_000);
    const orderId = randomUUID();
    const outcome = await authorize({ orderId, userId, amountCents: 1_500 });

    expect(outcome.replayed).toBe(false);
    expect(outcome.payment.status).toBe('AUTHORIZED');
    expect(await balanceOf(userId)).toBe(3_500);
    const stored = await getPayment(repositories().payments, outcome.payment.id);
    expect({ orderId: stored.orderId, userId: stored.userId, amount: stored.amount.cents, status: stored.status }).toEqual({
      orderId,
      userId,
      amount: 1_500,
      status: 'AUTHORIZED',
    });
  });

  it('debits once when the same order is authorized twice, answering with the first outcome', async () => {
    const userId = await newAccount(5_000);
    const orderId = randomUUID();
    const first = await authorize({ orderId, userId, amountCents: 1_500 });
    const again = await authorize({ orderId, userId, amountCents: 1_500 });

    expect(again.replayed).toBe(true);
    expect(again.payment.id).toBe(first.payment.id);
    expect(again.payment.status).toBe('AUTHORIZED');
    expect(await balanceOf(userId)).toBe(3_500);
    expect(await listPayments(repositories().payments, orderId)).toHaveLength(1);
  });

  it('debits once when two commands for one order are handled at the same time', async () => {
    const userId = await newAccount(5_000);
    const orderId = randomUUID();
    const outcomes = await Promise.all([authorize({ orderId, userId, amountCents: 1_500 }), authorize({ orderId, userId, amountCents: 1_500 })]);

    expect(outcomes.map((outcome) => outcome.replayed).sort()).toEqual([false, true]);
    expect(new Set(outcomes.map((outcome) => outcome.payment.id)).size).toBe(1);
    expect(await balanceOf(userId)).toBe(3_500);
  });

  it('never overdraws under concurrent authorizations: 10 × 1500 on 5000 authorizes exactly 3', async () => {
    const userId = await newAccount(5_000);
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () => authorize({ orderId: randomUUID(), userId, amountCents: 1_500 })),
    );

    const statuses = outcomes.map((outcome) => outcome.payment.status);
    expect(statuses.filter((status) => status === 'AUTHORIZED')).toHaveLength(3);
    expect(statuses.filter((status) => status === 'DECLINED')).toHaveLength(7);
    expect(outcomes.filter((o) => o.payment.status === 'DECLINED').every((o) => o.payment.decline?.code === 'INSUFFICIENT_FUNDS')).toBe(true);
    expect(await balanceOf(userId)).toBe(500);
  });

  it('declines for insufficient funds, records the decline, and keeps the balance', async () => {
    const userId = await newAccount(1_000);
    const orderId = randomUUID();
    const outcome = await authorize({ orderId, userId, amountCents: 1_001 });

    expect(outcome.payment.status).toBe('DECLINED');
    expect(outcome.payment.decline?.code).toBe('INSUFFICIENT_FUNDS');
    expect(await balanceOf(userId)).toBe(1_000);
    const [stored] = await listPayments(repositories().payments, orderId);
    expect(stored?.decline).toEqual(outcome.payment.decline);
  });

  it('remembers a decline: a retried order stays declined even after the balance grew', async () => {
    const userId = await newAccount(1_000);
    const orderId = randomUUID();
    await authorize({ orderId, userId, amountCents: 2_000 });
    await withTransaction(pool, (tx) => pgRepositories(tx).accounts.credit(userId, Money.ofCents(5_000), new Date()));

    const again = await authorize({ orderId, userId, amountCents: 2_000 });
    expect(again.replayed).toBe(true);
    expect(again.payment.status).toBe('DECLINED');
    expect(await balanceOf(userId)).toBe(6_000);
  });

  it('declines when the user has no account', async () => {
    const outcome = await authorize({ orderId: randomUUID(), userId: randomUUID(), amountCents: 100 });
    expect(outcome.payment.status).toBe('DECLINED');
    expect(outcome.payment.decline?.code).toBe('ACCOUNT_NOT_FOUND');
  });
});

describe('refund payment', () => {
  it('credits an authorized payment back once and marks it REFUNDED', async () => {
    const userId = await newAccount(5_000);
    const orderId = randomUUID();
    const { payment } = await authorize({ orderId, userId, amountCents: 1_500 });

    const first = await refund(orderId);
    expect(first.kind).toBe('refunded');
    expect(await balanceOf(userId)).toBe(5_000);
    expect((await getPayment(repositories().payments, payment.id)).status).toBe('REFUNDED');

    const second = await refund(orderId);
    expect(second.kind).toBe('already_refunded');
    expect(second.payment?.id).toBe(payment.id);
    expect(await balanceOf(userId)).toBe(5_000);
  });

  it('credits once when two refunds for one order are handled at the same time', async () => {
    const userId = await newAccount(5_000);
    const orderId = randomUUID();
    await authorize({ orderId, userId, amountCents: 1_500 });

    const outcomes = await Promise.all([refund(orderId), refund(orderId)]);
    expect(outcomes.map((outcome) => outcome.kind).sort()).toEqual(['already_refunded', 'refunded']);
    expect(await balanceOf(userId)).toBe(5_000);
  });

  it('has nothing to refund for a declined or never-authorized order', async () => {
    const userId = await newAccount(100);
    const declinedOrder = randomUUID();
    await authorize({ orderId: declinedOrder, userId, amountCents: 500 });

    const declined = await refund(declinedOrder);
    expect(declined.kind).toBe('nothing_to_refund');
    expect(declined.payment?.status).toBe('DECLINED');
    expect((await refund(randomUUID())).kind).toBe('nothing_to_refund');
    expect(await balanceOf(userId)).toBe(100);
  });
});

describe('queries', () => {
  it('reports unknown accounts and payments as domain errors', async () => {
    await expect(getAccount(repositories().accounts, randomUUID())).rejects.toMatchObject({ code: 'ACCOUNT.NOT_FOUND' });
    await expect(getPayment(repositories().payments, randomUUID())).rejects.toMatchObject({ code: 'PAYMENT.NOT_FOUND' });
    expect(await listPayments(repositories().payments, randomUUID())).toEqual([]);
  });
});
