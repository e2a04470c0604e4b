import { randomBytes, randomUUID } from 'node:crypto';
import {
  createKafkaBus,
  createMessage,
  decodeMessage,
  enqueueMessage,
  eventsMigrations,
  OutboxRelay,
  type BusConsumer,
  type IncomingRecord,
  type KafkaBus,
  type MessageEnvelope,
} from '@msr/events';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { createLogger, createPool, migrate } from '@msr/service-defaults';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Money } from '../../domain/money.value-object.js';
import { paymentServiceMigrations } from '../../infrastructure/payment-service.migrations.js';
import { createPaymentConsumer, type PaymentTopics } from './payment-consumer.js';

const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const suffix = randomBytes(4).toString('hex');
const topics: PaymentTopics = {
  groupId: `payment-service-test-${suffix}`,
  userEvents: `test.user-events.${suffix}`,
  paymentCommands: `test.payment-commands.${suffix}`,
  paymentEvents: `test.payment-events.${suffix}`,
};
const replyTopic = `test.payment-replies.${suffix}`;
const logger = createLogger({ service: 'payment-service-test', level: 'silent' });

let database: TestDatabase;
let pool: pg.Pool;
let bus: KafkaBus;
let relay: OutboxRelay;
let consumer: ReturnType<typeof createPaymentConsumer>;
let replyListener: BusConsumer;
const replies: IncomingRecord[] = [];

beforeAll(async () => {
  database = await createTestDatabase('payment_kafka');
  pool = createPool(database.url, logger);
  await migrate(pool, [eventsMigrations, paymentServiceMigrations], logger);
  bus = createKafkaBus({ clientId: 'payment-service-test', brokers, logger });
  await bus.ensureTopics([topics.userEvents, topics.paymentCommands, topics.paymentEvents, replyTopic]);
  relay = new OutboxRelay({ pool, bus, logger, pollIntervalMs: 100 });
  relay.start();
  consumer = createPaymentConsumer({ bus, pool, logger, startingBalance: Money.ofCents(5_000), topics });
  replyListener = bus.createConsumer(`payment-replies-test-${suffix}`);
  await Promise.all([
    consumer.start(),
    replyListener.start({ topics: [replyTopic], partitionsConsumedConcurrently: 1, eachRecord: async (record) => void replies.push(record) }),
  ]);
});

afterAll(async () => {
  await replyListener?.stop();
  await consumer?.stop();
  await relay?.stop();
  await bus?.disconnect();
  await pool?.end();
  await database?.drop();
});

/** Polls `probe` until it returns a value, failing after `timeoutMs`. */
async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const replyTo = (command: MessageEnvelope): MessageEnvelope | undefined => {
  const record = replies.find((candidate) => candidate.headers['causation_id'] === command.id);
  return record === undefined ? undefined : decodeMessage({ key: record.key ?? '', value: record.value ?? '', headers: record.headers });
};

describe('payment-service over Kafka', () => {
  it('opens an account on user.created, then answers payment.authorize with payment.authorized on the reply topic', async () => {
    const userId = randomUUID();
    const userCreated = createMessage(
      'user.created',
      { user_id: userId, email: `${userId}@example.com`, name: 'Grace', status: 'active', created_at: new Date().toISOString() },
      { key: userId },
    );
    // Published by the service's own relay, as another service's outbox would.
    await enqueueMessage(pool, userCreated, topics.userEvents);
    await eventually(async () => (await pool.query('SELECT 1 FROM accounts WHERE user_id = $1', [userId])).rows[0], 'the account');

    const orderId = randomUUID();
    const sagaId = randomUUID();
    const command = createMessage(
      'payment.authorize',
      { order_id: orderId, user_id: userId, amount_cents: 1_200 },
      { key: orderId, correlationId: sagaId, replyTo: replyTopic },
    );
    await enqueueMessage(pool, command, topics.paymentCommands);

    const reply = await eventually(() => replyTo(command), 'the payment.authorized reply');
    expect(reply.type).toBe('payment.authorized');
    expect(reply.key).toBe(orderId);
    expect(reply.correlation_id).toBe(sagaId);
    expect(reply.payload).toEqual({ payment_id: expect.any(String), order_id: orderId, user_id: userId, amount_cents: 1_200 });
    const { rows } = await pool.query<{ balance_cents: string }>('SELECT balance_cents FROM accounts WHERE user_id = $1', [userId]);
    expect(Number(rows[0]?.balance_cents)).toBe(3_800);
  }, 45_000);
});
