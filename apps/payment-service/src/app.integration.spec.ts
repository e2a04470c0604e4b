import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { closeServer, createLogger, createPool, Health, listen, Metrics, migrate, withTransaction } from '@msr/service-defaults';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { authorizePayment } from './application/authorize-payment.use-case.js';
import { openAccount } from './application/open-account.use-case.js';
import { refundPayment } from './application/refund-payment.use-case.js';
import { Money } from './domain/money.value-object.js';
import { paymentServiceMigrations } from './infrastructure/payment-service.migrations.js';
import { pgRepositories } from './infrastructure/pg-repositories.js';

let database: TestDatabase;
let pool: pg.Pool;
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  database = await createTestDatabase('payment_http');
  const logger = createLogger({ service: 'payment-service-test', level: 'silent' });
  pool = createPool(database.url, logger);
  await migrate(pool, [paymentServiceMigrations], logger);
  const app = createApp({ logger, health: new Health(), metrics: new Metrics('payment-service'), repositories: pgRepositories(pool), deadLetters: { pool, consumers: [] } });
  const listening = await listen(app, 0, '127.0.0.1');
  server = listening.server;
  baseUrl = `http://127.0.0.1:${listening.port}`;
});

afterAll(async () => {
  if (server) await closeServer(server);
  await pool?.end();
  await database?.drop();
});

async function get(path: string): Promise<{ status: number; type: string | null; body: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}${path}`);
  return { status: response.status, type: response.headers.get('content-type'), body: (await response.json()) as Record<string, unknown> };
}

function expectProblem(answer: Awaited<ReturnType<typeof get>>, status: number, code: string): void {
  expect(answer.status).toBe(status);
  expect(answer.type).toMatch(/^application\/problem\+json/);
  expect(answer.body).toMatchObject({ status, code });
  expect(answer.body['detail']).toEqual(expect.any(String));
}

async function seedAccount(balanceCents: number): Promise<string> {
  const userId = randomUUID();
  await withTransaction(pool, (tx) => openAccount(pgRepositories(tx).accounts, { userId, startingBalance: Money.ofCents(balanceCents) }));
  return userId;
}

const authorize = (orderId: string, userId: string, amountCents: number) =>
  withTransaction(pool, (tx) => authorizePayment(pgRepositories(tx), { orderId, userId, amountCents }));

describe('GET /accounts/{user_id}', () => {
  it('answers the balance in cents', async () => {
    const userId = await seedAccount(50_000);
    const answer = await get(`/accounts/${userId}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      user_id: userId,
      balance_cents: 50_000,
      currency: 'USD',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('answers 404 for a user without an account', async () => {
    expectProblem(await get(`/accounts/${randomUUID()}`), 404, 'ACCOUNT.NOT_FOUND');
  });

  it('answers 400 for an id that is not a UUID', async () => {
    const answer = await get('/accounts/not-a-uuid');
    expectProblem(answer, 400, 'REQUEST.INVALID');
    expect(answer.body['invalid_params']).toEqual([expect.objectContaining({ name: 'user_id' })]);
  });
});

describe('GET /payments/{id}', () => {
  it('answers an authorized, then refunded, payment', async () => {
    const userId = await seedAccount(5_000);
    const orderId = randomUUID();
    const { payment } = await authorize(orderId, userId, 1_500);

    const authorized = await get(`/payments/${payment.id}`);
    expect(authorized.status).toBe(200);
    expect(authorized.body).toMatchObject({ id: payment.id, order_id: orderId, user_id: userId, amount_cents: 1_500, status: 'AUTHORIZED' });
    expect(authorized.body).not.toHaveProperty('decline_reason');

    await withTransaction(pool, (tx) => refundPayment(pgRepositories(tx), { orderId }));
    expect((await get(`/payments/${payment.id}`)).body['status']).toBe('REFUNDED');
  });

  it('answers a declined payment with its reason', async () => {
    const userId = await seedAccount(100);
    const { payment } = await authorize(randomUUID(), userId, 1_500);
    const answer = await get(`/payments/${payment.id}`);
    expect(answer.body).toMatchObject({ status: 'DECLINED', decline_reason: 'INSUFFICIENT_FUNDS', decline_detail: expect.any(String) });
  });

  it('answers 404 for an unknown payment and 400 for a non-UUID id', async () => {
    expectProblem(await get(`/payments/${randomUUID()}`), 404, 'PAYMENT.NOT_FOUND');
    expectProblem(await get('/payments/12345'), 400, 'REQUEST.INVALID');
  });
});

describe('GET /payments?order_id=', () => {
  it('lists the payment of an order', async () => {
    const userId = await seedAccount(5_000);
    const orderId = randomUUID();
    const { payment } = await authorize(orderId, userId, 700);
    const answer = await get(`/payments?order_id=${orderId}`);
    expect(answer.status).toBe(200);
    expect(answer.body['data']).toEqual([expect.objectContaining({ id: payment.id, order_id: orderId, amount_cents: 700 })]);
  });

  it('answers an empty list for an order without payments', async () => {
    expect((await get(`/payments?order_id=${randomUUID()}`)).body).toEqual({ data: [] });
  });

  it('answers 400 when order_id is missing or not a UUID', async () => {
    expectProblem(await get('/payments'), 400, 'REQUEST.INVALID');
    const invalid = await get('/payments?order_id=abc');
    expectProblem(invalid, 400, 'REQUEST.INVALID');
    expect(invalid.body['invalid_params']).toEqual([expect.objectContaining({ name: 'order_id' })]);
  });
});
