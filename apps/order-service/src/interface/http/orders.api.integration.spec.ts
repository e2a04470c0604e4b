import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { BreakerRegistry } from '@msr/circuit-breaker';
import { ServiceHttpClient } from '@msr/discovery';
import { eventsMigrations } from '@msr/events';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { sagaMigrations, SagaOrchestrator } from '@msr/saga';
import { closeServer, createLogger, createPool, Health, listen, Metrics, migrate } from '@msr/service-defaults';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../app.js';
import { createPlaceOrderSaga } from '../../application/place-order/place-order.saga.js';
import { PlaceOrderService } from '../../application/place-order/place-order.service.js';
import { OrderQueries } from '../../application/queries/order.queries.js';
import { orderServiceMigrations } from '../../infrastructure/order-service.migrations.js';
import { PgInventoryRepository } from '../../infrastructure/pg-inventory.repository.js';
import { PgOrderRepository } from '../../infrastructure/pg-order.repository.js';
import { PgProductRepository } from '../../infrastructure/pg-product.repository.js';
import { SagaOperations } from '../../application/sagas/saga-operations.js';
import { HttpUserDirectory } from '../../infrastructure/user-service.client.js';

/**
 * The orders API over HTTP against a real database. No user-service instance is registered
 * (discovery finds none), so a placed order's saga gives up on verify-user after its retries.
 */
const logger = createLogger({ service: 'order-service-test', level: 'silent' });
let database: TestDatabase;
let pool: pg.Pool;
let orchestrator: SagaOrchestrator;
let http: ServiceHttpClient;
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  database = await createTestDatabase('orders_api');
  pool = createPool(database.url, logger);
  await migrate(pool, [eventsMigrations, sagaMigrations, orderServiceMigrations], logger);
  const products = new PgProductRepository();
  const orders = new PgOrderRepository();
  const retry = { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
  http = new ServiceHttpClient({
    discovery: { instances: () => Promise.resolve([]) },
    breakers: new BreakerRegistry({ logger }),
    strategy: 'round_robin',
    logger,
  });
  const saga = createPlaceOrderSaga({
    users: new HttpUserDirectory(http, 'user-service'),
    orders,
    inventory: new PgInventoryRepository(),
    topics: { orderEvents: 'test.order-events', paymentCommands: 'test.payment-commands' },
    verifyUser: { retry, timeoutMs: 1_000 },
    localRetry: retry,
  });
  orchestrator = new SagaOrchestrator({ pool, logger, definitions: [saga], replyTopic: 'test.replies' });
  const app = createApp({
    logger,
    health: new Health(),
    metrics: new Metrics('order-service'),
    placeOrder: new PlaceOrderService({ pool, products, orders, orchestrator, saga, orderEventsTopic: 'test.order-events' }),
    queries: new OrderQueries({ pool, products, orders, orchestrator }),
    sagas: new SagaOperations(orchestrator),
    deadLetters: { pool, consumers: [] },
  });
  const listening = await listen(app, 0, '127.0.0.1');
  server = listening.server;
  baseUrl = `http://127.0.0.1:${listening.port}`;
});

afterAll(async () => {
  if (server !== undefined) await closeServer(server);
  await orchestrator?.stop();
  await http?.close();
  await pool?.end();
  await database?.drop();
});

interface Answer {
  status: number;
  contentType: string;
  location: string | null;
  // Test answers are whatever the API sent; each test checks the fields it needs.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

async function call(method: string, path: string, body?: unknown, raw?: string): Promise<Answer> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    ...(body === undefined && raw === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: raw ?? JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    location: response.headers.get('location'),
    body: text === '' ? undefined : JSON.parse(text),
  };
}

async function counts(): Promise<Record<string, number>> {
  const tables = ['orders', 'order_items', 'reservations', 'outbox', 'saga_instances'];
  const entries = await Promise.all(tables.map(async (table) => [table, Number((await pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n)] as const));
  return Object.fromEntries(entries);
}

describe('GET /products', () => {
  it('lists the catalog with prices in cents and stock', async () => {
    const answer = await call('GET', '/products');
    expect(answer.status).toBe(200);
    expect(answer.body.data).toContainEqual({ sku: 'SKU-LAPTOP', name: 'Laptop', price_cents: 249900, stock: 10 });
    expect(answer.body.data).toHaveLength(5);
  });
});

describe('POST /orders with bad input', () => {
  const user = randomUUID();
  const cases: Array<{ what: string; body?: unknown; raw?: string; status: number; code: string; mentions: RegExp }> = [
    { what: 'malformed JSON', raw: '{"user_id": ', status: 400, code: 'REQUEST.MALFORMED_JSON', mentions: /JSON/ },
    { what: 'no body', status: 400, code: 'REQUEST.INVALID', mentions: /body/ },
    { what: 'an array body', body: [], status: 400, code: 'REQUEST.INVALID', mentions: /body/ },
    { what: 'missing user_id', body: { items: [{ sku: 'SKU-BOOK', quantity: 1 }] }, status: 400, code: 'REQUEST.INVALID', mentions: /user_id/ },
    { what: 'user_id not a UUID', body: { user_id: 'abc', items: [{ sku: 'SKU-BOOK', quantity: 1 }] }, status: 400, code: 'REQUEST.INVALID', mentions: /user_id/ },
    { what: 'missing items', body: { user_id: user }, status: 400, code: 'REQUEST.INVALID', mentions: /items/ },
    { what: 'items not an array', body: { user_id: user, items: 'SKU-BOOK' }, status: 400, code: 'REQUEST.INVALID', mentions: /items/ },
    { what: 'empty items', body: { user_id: user, items: [] }, status: 400, code: 'REQUEST.INVALID', mentions: /items must not be empty/ },
    { what: 'missing sku', body: { user_id: user, items: [{ quantity: 1 }] }, status: 400, code: 'REQUEST.INVALID', mentions: /items\.0\.sku/ },
    { what: 'zero quantity', body: { user_id: user, items: [{ sku: 'SKU-BOOK', quantity: 0 }] }, status: 400, code: 'REQUEST.INVALID', mentions: /quantity/ },
    { what: 'negative quantity', body: { user_id: user, items: [{ sku: 'SKU-BOOK', quantity: -3 }] }, status: 400, code: 'REQUEST.INVALID', mentions: /quantity/ },
    { what: 'fractional quantity', body: { user_id: user, items: [{ sku: 'SKU-BOOK', quantity: 1.5 }] }, status: 400, code: 'REQUEST.INVALID', mentions: /quantity must be a whole number/ },
    { what: 'quantity as a string', body: { user_id: user, items: [{ sku: 'SKU-BOOK', quantity: '2' }] }, status: 400, code: 'REQUEST.INVALID', mentions: /quantity/ },
    { what: 'quantity too large', body: { user_id: user, items: [{ sku: 'SKU-BOOK', quantity: 101 }] }, status: 400, code: 'REQUEST.INVALID', mentions: /quantity must be at most 100/ },
    {
      what: 'one SKU on two lines',
      body: { user_id: user, items: [{ sku: 'SKU-BOOK', quantity: 1 }, { sku: 'SKU-BOOK', quantity: 2 }] },
      status: 400,
      code: 'REQUEST.INVALID',
      mentions: /duplicate sku SKU-BOOK/,
    },
    {
      what: 'unknown SKUs',
      body: { user_id: user, items: [{ sku: 'SKU-NOPE', quantity: 1 }, { sku: 'SKU-BOOK', quantity: 1 }, { sku: 'SKU-GONE', quantity: 1 }] },
      status: 422,
      code: 'ORDER.UNKNOWN_SKU',
      mentions: /SKU-NOPE, SKU-GONE/,
    },
  ];

  for (const c of cases) {
    it(`answers ${c.status} problem+json for ${c.what}`, async () => {
      const answer = await call('POST', '/orders', c.body, c.raw);
      expect(answer.status).toBe(c.status);
      expect(answer.contentType).toMatch(/^application\/problem\+json/);
      expect(answer.body).toMatchObject({ status: c.status, code: c.code, instance: '/orders' });
      expect(answer.body.detail).toMatch(c.mentions);
    });
  }

  it('names the unknown SKUs in the problem as a list too', async () => {
    const answer = await call('POST', '/orders', { user_id: user, items: [{ sku: 'SKU-NOPE', quantity: 1 }] });
    expect(answer.body.skus).toEqual(['SKU-NOPE']);
  });

  it('writes nothing for any rejected request', async () => {
    expect(await counts()).toEqual({ orders: 0, order_items: 0, reservations: 0, outbox: 0, saga_instances: 0 });
  });
});

describe('placing and reading an order', () => {
  const userId = randomUUID();
  let placed: Answer;

  beforeAll(async () => {
    placed = await call('POST', '/orders', { user_id: userId, items: [{ sku: 'SKU-KEYBOARD', quantity: 2, unit_price_cents: 1 }, { sku: 'SKU-MUG', quantity: 1 }] });
  });

  it('answers 202 with the order id, PENDING, the saga id and a Location', async () => {
    expect(placed.status).toBe(202);
    expect(placed.body).toEqual({ order_id: expect.any(String), status: 'PENDING', saga_id: expect.any(String) });
    expect(placed.location).toBe(`/orders/${placed.body.order_id}`);
  });

  it('writes the order, order.created in the outbox and the saga in one go, priced from the catalog', async () => {
    const order = await call('GET', placed.location!);
    expect(order.body).toMatchObject({ id: placed.body.order_id, user_id: userId, total_cents: 2 * 12900 + 1250 });
    expect(order.body.items).toEqual([
      { sku: 'SKU-KEYBOARD', quantity: 2, unit_price_cents: 12900, subtotal_cents: 25800 },
      { sku: 'SKU-MUG', quantity: 1, unit_price_cents: 1250, subtotal_cents: 1250 },
    ]);
    const { rows } = await pool.query("SELECT topic, headers FROM outbox WHERE type = 'order.created' AND key = $1", [placed.body.order_id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ topic: 'test.order-events', headers: { correlation_id: placed.body.saga_id } });
    expect(order.body.saga.id).toBe(placed.body.saga_id);
  });

  it('rejects the order once verify-user has spent its retries with no user-service to ask', async () => {
    const deadline = Date.now() + 10_000;
    let order = await call('GET', placed.location!);
    while (order.body.status === 'PENDING' && Date.now() < deadline) {
      await sleep(20);
      order = await call('GET', placed.location!);
    }
    expect(order.body).toMatchObject({ status: 'REJECTED', reason_code: 'SAGA.RETRIES_EXHAUSTED' });
    expect(order.body.reason).toMatch(/verify-user failed after 3 attempt\(s\): No healthy instance of user-service/);
    expect(order.body.saga).toMatchObject({ status: 'COMPENSATED' });
    expect(order.body.saga.steps).toEqual([
      expect.objectContaining({ step: 'verify-user', direction: 'forward', outcome: 'exhausted', attempts: 3, error: 'No healthy instance of user-service' }),
    ]);
    const { rows } = await pool.query("SELECT payload FROM outbox WHERE type = 'order.rejected' AND key = $1", [placed.body.order_id]);
    expect(rows).toHaveLength(1);
  });

  it("lists a user's orders", async () => {
    const list = await call('GET', `/orders?user_id=${userId}`);
    expect(list.status).toBe(200);
    expect(list.body.data.map((order: { id: string }) => order.id)).toEqual([placed.body.order_id]);
    expect((await call('GET', `/orders?user_id=${randomUUID()}`)).body).toEqual({ data: [] });
  });

  it('shows the saga with its data, step log and timeline of every attempt', async () => {
    const saga = await call('GET', `/sagas/${placed.body.saga_id}`);
    expect(saga.status).toBe(200);
    expect(saga.body).toMatchObject({ id: placed.body.saga_id, type: 'place-order', version: 1, status: 'COMPENSATED', data: { order_id: placed.body.order_id } });
    expect(saga.body).toMatchObject({ deadline_at: null, owner: null, parked_at: null, generation: 0 });
    expect(saga.body.timeline.map((entry: { event: string; attempt: number | null }) => [entry.event, entry.attempt])).toEqual([
      ['started', null],
      ['retrying', 1],
      ['retrying', 2],
      ['exhausted', 3],
    ]);
    expect(saga.body.timeline[1]).toMatchObject({ step: 'verify-user', direction: 'forward', status: 'RUNNING', detail: 'No healthy instance of user-service', instance: expect.any(String) });
  });

  it('lists sagas by status, type and age', async () => {
    const compensated = await call('GET', '/sagas?status=COMPENSATED&type=place-order');
    expect(compensated.status).toBe(200);
    expect(compensated.body.data.map((saga: { id: string }) => saga.id)).toContain(placed.body.saga_id);
    expect(compensated.body.data[0]).not.toHaveProperty('timeline');
    expect((await call('GET', '/sagas?status=COMPENSATED&older_than=1h')).body).toEqual({ data: [] });
    expect((await call('GET', '/sagas?status=RUNNING')).body.data.map((saga: { id: string }) => saga.id)).not.toContain(placed.body.saga_id);
  });

  it('refuses to retry a saga that is not parked', async () => {
    const retried = await call('POST', `/sagas/${placed.body.saga_id}/retry`);
    expect(retried).toMatchObject({ status: 409, body: { code: 'SAGA.NOT_RETRYABLE' } });
    expect(await call('POST', `/sagas/${randomUUID()}/retry`)).toMatchObject({ status: 404, body: { code: 'SAGA.NOT_FOUND' } });
  });
});

describe('operator endpoints with bad input', () => {
  it('answers 400 naming the parameter for a bad saga query', async () => {
    expect((await call('GET', '/sagas?status=DONE')).body).toMatchObject({ status: 400, detail: expect.stringMatching(/status/) });
    expect((await call('GET', '/sagas?older_than=yesterday')).body).toMatchObject({ status: 400, detail: expect.stringMatching(/older_than/) });
    expect((await call('GET', '/sagas?limit=0')).body).toMatchObject({ status: 400, detail: expect.stringMatching(/limit/) });
    expect((await call('GET', '/sagas?colour=red')).body).toMatchObject({ status: 400, detail: expect.stringMatching(/colour/) });
  });

  it('lists dead letters, and answers 404 for an unknown one', async () => {
    expect(await call('GET', '/admin/dead-letters')).toMatchObject({ status: 200, body: { data: [] } });
    expect(await call('POST', `/admin/dead-letters/${randomUUID()}/replay`)).toMatchObject({ status: 404, body: { code: 'DEAD_LETTER.NOT_FOUND' } });
  });
});

describe('reading what does not exist', () => {
  it('answers 404 problem+json for an unknown order and saga', async () => {
    const order = await call('GET', `/orders/${randomUUID()}`);
    expect(order).toMatchObject({ status: 404, body: { code: 'ORDER.NOT_FOUND' } });
    expect(order.contentType).toMatch(/^application\/problem\+json/);
    expect(await call('GET', `/sagas/${randomUUID()}`)).toMatchObject({ status: 404, body: { code: 'SAGA.NOT_FOUND' } });
  });

  it('answers 400 for ids and user ids that are not UUIDs', async () => {
    expect(await call('GET', '/orders/42')).toMatchObject({ status: 400, body: { code: 'REQUEST.INVALID' } });
    expect((await call('GET', '/orders?user_id=bob')).body.detail).toMatch(/user_id/);
    expect((await call('GET', '/orders')).status).toBe(400);
  });
});
