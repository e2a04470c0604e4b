import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServiceInstance } from '@msr/discovery';
import { createKafkaBus, createMessage, decodeMessage, encodeMessage, type BusConsumer, type KafkaBus, type MessageEnvelope } from '@msr/events';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { commandMessageId } from '@msr/saga';
import { closeServer, createLogger, listen, loadConfig, Metrics } from '@msr/service-defaults';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../config.js';
import { wireOrderService, type OrderService, type OrderServiceTopics } from '../../wiring.js';

/**
 * The PlaceOrder saga end to end inside one process, on real PostgreSQL and real Kafka: the
 * order-service as `main.ts` wires it, with user-service played by a small HTTP server that a
 * stand-in discovery points at, and payment-service played by a consumer on the (test-unique)
 * command topic that answers on the saga reply topic.
 */
const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const suffix = randomBytes(4).toString('hex');
const topics: OrderServiceTopics = {
  orderEvents: `test.order-events.${suffix}`,
  paymentCommands: `test.payment-commands.${suffix}`,
  orderSagaReplies: `test.order-saga-replies.${suffix}`,
};
const logger = createLogger({ service: 'order-service-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

/** user-service stand-in: `GET /users/{id}` from a map of user id → status. */
const users = new Map<string, string>();
let userServer: Server;
let userInstance: ServiceInstance;

/** payment-service stand-in: balances, the commands it received, and its consumer. */
const balances = new Map<string, number>();
const payments = new Map<string, { paymentId: string; amount: number; refunded: boolean }>();
const received: MessageEnvelope[] = [];
/** Users whose authorizations the stand-in answers three times: the reply, the same reply again, and a second reply with its own id. */
const answeredThrice = new Set<string>();
let paymentBus: KafkaBus;
let paymentConsumer: BusConsumer;

let database: TestDatabase;
let service: OrderService;
let server: Server;
let baseUrl: string;

function startUserService(): Promise<Server> {
  const userServer = createServer((req, res) => {
    const id = /^\/users\/([^/]+)$/.exec(req.url ?? '')?.[1];
    const status = id === undefined ? undefined : users.get(id);
    res.setHeader('content-type', 'application/json');
    if (status === undefined) {
      res.statusCode = 404;
      res.end(JSON.stringify({ code: 'USER.NOT_FOUND' }));
      return;
    }
    res.end(JSON.stringify({ id, email: `${id}@example.com`, name: 'Test User', status }));
  });
  return new Promise((resolve) => userServer.listen(0, '127.0.0.1', () => resolve(userServer)));
}

function answer(command: MessageEnvelope): MessageEnvelope {
  const meta = { key: command.key, correlationId: command.correlation_id, causationId: command.id };
  if (command.type === 'payment.authorize') {
    const { order_id, user_id, amount_cents } = (command as MessageEnvelope<'payment.authorize'>).payload;
    const balance = balances.get(user_id) ?? 50_000;
    const earlier = payments.get(order_id);
    if (earlier !== undefined) return createMessage('payment.authorized', { payment_id: earlier.paymentId, order_id, user_id, amount_cents }, meta);
    if (amount_cents > balance) {
      return createMessage('payment.declined', { order_id, user_id, amount_cents, reason_code: 'INSUFFICIENT_FUNDS', reason: `balance ${balance} < ${amount_cents}` }, meta);
    }
    balances.set(user_id, balance - amount_cents);
    const paymentId = randomUUID();
    payments.set(order_id, { paymentId, amount: amount_cents, refunded: false });
    return createMessage('payment.authorized', { payment_id: paymentId, order_id, user_id, amount_cents }, meta);
  }
  const { order_id } = (command as MessageEnvelope<'payment.refund'>).payload;
  const payment = payments.get(order_id);
  if (payment === undefined || payment.refunded) return createMessage('payment.refunded', { order_id, payment_id: payment?.paymentId ?? null, amount_cents: 0 }, meta);
  payment.refunded = true;
  return createMessage('payment.refunded', { order_id, payment_id: payment.paymentId, amount_cents: payment.amount }, meta);
}

beforeAll(async () => {
  userServer = await startUserService();
  const { port } = userServer.address() as AddressInfo;
  userInstance = { id: 'user-service-stand-in', name: 'user-service', address: '127.0.0.1', port, tags: [], meta: {}, health: 'passing', last_seen: new Date().toISOString() };

  database = await createTestDatabase('orders_saga');
  const config = loadConfig(configSchema, {
    DATABASE_URL: database.url,
    KAFKA_BROKERS: brokers.join(','),
    SAGA_RETRY_BASE_MS: '5',
    SAGA_RETRY_MAX_MS: '20',
    PAYMENT_REPLY_TIMEOUT_MS: '15000',
  });
  service = await wireOrderService({
    config,
    logger,
    metrics: new Metrics('order-service'),
    discovery: { instances: (name) => Promise.resolve(name === 'user-service' ? [userInstance] : []) },
    topics,
    consumerGroupId: `order-service-test-${suffix}`,
  });

  paymentBus = createKafkaBus({ clientId: 'payment-stand-in', brokers, logger });
  paymentConsumer = paymentBus.createConsumer(`payment-stand-in-${suffix}`);
  await paymentConsumer.start({
    topics: [topics.paymentCommands],
    partitionsConsumedConcurrently: 1,
    eachRecord: async (record) => {
      const command = decodeMessage({ key: record.key ?? '', value: record.value ?? '', headers: record.headers });
      received.push(command);
      const reply = answer(command);
      const replyTopic = command.reply_to ?? 'missing-reply-to';
      const userId = command.type === 'payment.authorize' ? (command as MessageEnvelope<'payment.authorize'>).payload.user_id : '';
      const replies = answeredThrice.has(userId) ? [reply, reply, answer(command)] : [reply];
      await paymentBus.producer().send(replies.map((message) => ({ topic: replyTopic, ...encodeMessage(message) })));
    },
  });

  await service.start();
  const listening = await listen(service.app, 0, '127.0.0.1');
  server = listening.server;
  baseUrl = `http://127.0.0.1:${listening.port}`;
}, 90_000);

afterAll(async () => {
  try {
    if (server !== undefined) await closeServer(server);
    await service?.stop();
    await paymentConsumer?.stop();
    await paymentBus?.disconnect();
    if (userServer !== undefined) await new Promise((resolve) => userServer.close(resolve));
  } finally {
    await database?.drop();
  }
}, 60_000);

interface OrderJson {
  id: string;
  status: string;
  reason_code: string | null;
  reason: string | null;
  total_cents: number;
  saga: { id: string; status: string; steps: Array<{ step: string; direction: string; outcome: string; attempts: number; duration_ms: number | null }> };
}

async function get<T>(path: string): Promise<T> {
  const response = await fetch(`${baseUrl}${path}`);
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

async function stockOf(sku: string): Promise<number> {
  const { data } = await get<{ data: Array<{ sku: string; stock: number }> }>('/products');
  return data.find((product) => product.sku === sku)!.stock;
}

async function placeOrder(userId: string, items: Array<{ sku: string; quantity: number }>): Promise<{ order_id: string; saga_id: string }> {
  const response = await fetch(`${baseUrl}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: userId, items }) });
  expect(response.status).toBe(202);
  return (await response.json()) as { order_id: string; saga_id: string };
}

async function finalOrder(orderId: string): Promise<OrderJson> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const order = await get<OrderJson>(`/orders/${orderId}`);
    if (order.status !== 'PENDING') return order;
    if (Date.now() > deadline) throw new Error(`order ${orderId} still PENDING: ${JSON.stringify(order.saga)}`);
    await sleep(25);
  }
}

async function waitForTimeline(sagaId: string, done: (events: string[]) => boolean): Promise<{ timeline: Array<{ event: string; step: string | null }> }> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const saga = await get<{ timeline: Array<{ event: string; step: string | null }> }>(`/sagas/${sagaId}`);
    if (done(saga.timeline.map((entry) => entry.event))) return saga;
    if (Date.now() > deadline) throw new Error(`saga ${sagaId} timeline never got there: ${JSON.stringify(saga.timeline)}`);
    await sleep(25);
  }
}

function user(status: string): string {
  const id = randomUUID();
  users.set(id, status);
  return id;
}

const outcomes = (order: OrderJson) => order.saga.steps.map((step) => `${step.step}:${step.direction}:${step.outcome}`);
const commandsFor = (orderId: string) => received.filter((command) => command.key === orderId).map((command) => command.type);

describe('PlaceOrder saga over real PostgreSQL and Kafka', () => {
  it('approves an order of an active user with funds and stock', async () => {
    const userId = user('active');
    const stockBefore = await stockOf('SKU-BOOK');

    const placed = await placeOrder(userId, [{ sku: 'SKU-BOOK', quantity: 2 }]);
    const order = await finalOrder(placed.order_id);

    expect(order).toMatchObject({ status: 'APPROVED', reason_code: null, total_cents: 9998, saga: { id: placed.saga_id, status: 'COMPLETED' } });
    expect(outcomes(order)).toEqual([
      'verify-user:forward:succeeded',
      'reserve-inventory:forward:succeeded',
      'authorize-payment:forward:succeeded',
      'approve-order:forward:succeeded',
    ]);
    expect(await stockOf('SKU-BOOK')).toBe(stockBefore - 2);
    expect(balances.get(userId)).toBe(50_000 - 9998);
    const command = received.find((message) => message.key === placed.order_id)!;
    expect(command).toMatchObject({
      type: 'payment.authorize',
      id: commandMessageId(placed.saga_id, 'authorize-payment', 'forward'),
      correlation_id: placed.saga_id,
      reply_to: topics.orderSagaReplies,
      payload: { order_id: placed.order_id, user_id: userId, amount_cents: 9998 },
    });
    const { rows } = await service.pool.query("SELECT type FROM outbox WHERE key = $1 AND topic = $2 ORDER BY seq", [placed.order_id, topics.orderEvents]);
    expect(rows.map((row) => row.type)).toEqual(['order.created', 'order.approved']);
    // The pending reservation (the semantic lock on the stock) became a sale at the pivot.
    const { rows: reservations } = await service.pool.query('SELECT sku, quantity, status FROM reservations WHERE order_id = $1', [placed.order_id]);
    expect(reservations).toEqual([{ sku: 'SKU-BOOK', quantity: 2, status: 'CONFIRMED' }]);
  });

  it('applies a reply once however often it comes: a redelivery is skipped by the inbox, a second answer is ignored', async () => {
    const userId = user('active');
    answeredThrice.add(userId);

    const placed = await placeOrder(userId, [{ sku: 'SKU-MUG', quantity: 1 }]);
    const order = await finalOrder(placed.order_id);

    expect(order).toMatchObject({ status: 'APPROVED', saga: { status: 'COMPLETED' } });
    const saga = await waitForTimeline(placed.saga_id, (events) => events.includes('reply_ignored'));
    expect(saga.timeline.filter((entry) => entry.event === 'reply_ignored')).toHaveLength(1);
    expect(saga.timeline.filter((entry) => entry.event === 'succeeded' && entry.step === 'authorize-payment')).toHaveLength(1);
    const { rows } = await service.pool.query("SELECT type FROM outbox WHERE key = $1 AND topic = $2 ORDER BY seq", [placed.order_id, topics.orderEvents]);
    expect(rows.map((row) => row.type)).toEqual(['order.created', 'order.approved']);
    expect(balances.get(userId)).toBe(50_000 - 1250);
  });

  it('rejects an order the balance cannot cover and releases its inventory', async () => {
    const userId = user('active');
    const stockBefore = await stockOf('SKU-LAPTOP');

    const placed = await placeOrder(userId, [{ sku: 'SKU-LAPTOP', quantity: 1 }]);
    const order = await finalOrder(placed.order_id);

    expect(order).toMatchObject({ status: 'REJECTED', reason_code: 'PAYMENT.INSUFFICIENT_FUNDS', reason: 'balance 50000 < 249900', saga: { status: 'COMPENSATED' } });
    expect(outcomes(order)).toEqual([
      'verify-user:forward:succeeded',
      'reserve-inventory:forward:succeeded',
      'authorize-payment:forward:failed',
      'release-inventory:compensate:succeeded',
    ]);
    expect(await stockOf('SKU-LAPTOP')).toBe(stockBefore);
    expect(balances.get(userId) ?? 50_000).toBe(50_000);
    // The declined step itself is not compensated: no refund was asked for.
    expect(commandsFor(placed.order_id)).toEqual(['payment.authorize']);
    const { rows } = await service.pool.query("SELECT payload FROM outbox WHERE key = $1 AND type = 'order.rejected'", [placed.order_id]);
    expect(rows[0]?.payload).toMatchObject({ reason_code: 'PAYMENT.INSUFFICIENT_FUNDS' });
  });

  it('rejects an order of a user who is not active without reserving anything', async () => {
    const userId = user('pending');
    const stockBefore = await stockOf('SKU-MUG');

    const placed = await placeOrder(userId, [{ sku: 'SKU-MUG', quantity: 1 }]);
    const order = await finalOrder(placed.order_id);

    expect(order).toMatchObject({ status: 'REJECTED', reason_code: 'USER.NOT_ACTIVE', reason: `User ${userId} is pending, not active` });
    expect(outcomes(order)).toEqual(['verify-user:forward:failed']);
    expect(await stockOf('SKU-MUG')).toBe(stockBefore);
    expect(commandsFor(placed.order_id)).toEqual([]);
  });

  it('rejects an order of a user that does not exist', async () => {
    const placed = await placeOrder(randomUUID(), [{ sku: 'SKU-MUG', quantity: 1 }]);
    const order = await finalOrder(placed.order_id);
    expect(order).toMatchObject({ status: 'REJECTED', reason_code: 'USER.NOT_FOUND' });
  });

  it('approves exactly 5 of 20 concurrent orders for 5 units, rejecting the rest as out of stock', async () => {
    const userId = user('active');
    balances.set(userId, 1_000_000);
    expect(await stockOf('SKU-LIMITED')).toBe(5);

    const placed = await Promise.all(Array.from({ length: 20 }, () => placeOrder(userId, [{ sku: 'SKU-LIMITED', quantity: 1 }])));
    const orders = await Promise.all(placed.map((order) => finalOrder(order.order_id)));

    expect(orders.filter((order) => order.status === 'APPROVED')).toHaveLength(5);
    const rejected = orders.filter((order) => order.status === 'REJECTED');
    expect(rejected).toHaveLength(15);
    expect(new Set(rejected.map((order) => order.reason_code))).toEqual(new Set(['ORDER.OUT_OF_STOCK']));
    expect(await stockOf('SKU-LIMITED')).toBe(0);
    expect(balances.get(userId)).toBe(1_000_000 - 5 * 1000);
    const { rows } = await service.pool.query<{ status: string; units: number }>(
      "SELECT status, sum(quantity)::int AS units FROM reservations WHERE sku = 'SKU-LIMITED' GROUP BY status",
    );
    expect(rows).toEqual([{ status: 'CONFIRMED', units: 5 }]);
  });
});
