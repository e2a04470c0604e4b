import { randomUUID } from 'node:crypto';
import { createKafkaBus, eventsMigrations, OutboxRelay, Topics, type KafkaBus } from '@msr/events';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { createLogger, createPool, migrate } from '@msr/service-defaults';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserUseCases, type UserUseCases } from '../application/user-use-cases.js';
import { PgUserRepository } from './pg-user.repository.js';
import { userServiceMigrations } from './user-service.migrations.js';

const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const logger = createLogger({ service: 'user-service-test', level: 'silent' });

interface Received {
  key: string | undefined;
  headers: Record<string, string>;
  payload: Record<string, unknown>;
}

let database: TestDatabase;
let pool: pg.Pool;
let bus: KafkaBus;
let relay: OutboxRelay;
let consumer: Consumer;
let users: UserUseCases;
const received: Received[] = [];

beforeAll(async () => {
  database = await createTestDatabase('user_events');
  pool = createPool(database.url, logger);
  await migrate(pool, [eventsMigrations, userServiceMigrations], logger);
  bus = createKafkaBus({ clientId: `user-service-test-${randomUUID()}`, brokers, logger });
  await bus.ensureTopics([Topics.userEvents]);
  relay = new OutboxRelay({ pool, bus, logger, pollIntervalMs: 100 });
  relay.start();
  users = createUserUseCases(new PgUserRepository(pool));

  consumer = new Kafka({ clientId: 'user-service-test-consumer', brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: `user-service-test-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: Topics.userEvents, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]));
      received.push({ key: message.key?.toString(), headers, payload: JSON.parse(message.value?.toString() ?? 'null') });
    },
  });
});

afterAll(async () => {
  await consumer?.disconnect();
  await relay?.stop();
  await bus?.disconnect();
  await pool?.end();
  await database?.drop();
});

/** Polls until `count` records keyed by `key` arrived (the topic is shared: filter by user id). */
async function recordsFor(key: string, count: number, deadlineMs = 15_000): Promise<Received[]> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const mine = received.filter((record) => record.key === key);
    if (mine.length >= count || Date.now() > deadline) return mine;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Polls until no outbox row keyed by `key` is unpublished, or the deadline passes; returns the count. */
async function unpublishedCount(key: string, deadlineMs = 5_000): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE key = $1 AND published_at IS NULL', [key]);
    if (rows[0]!.n === 0 || Date.now() > deadline) return rows[0]!.n;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('user events on Kafka', () => {
  it('publishes user.created and user.updated for one user, in order, with event_type and version headers', async () => {
    const created = await users.createUser.execute({ email: `kafka-${randomUUID()}@example.com`, name: 'Kafka Reader' });
    if (!created.ok) throw created.error;
    const user = created.value;
    const activated = await users.activateUser.execute(user.id);
    expect(activated.ok).toBe(true);

    const records = await recordsFor(user.id, 2);
    expect(records.map((record) => record.headers['event_type'])).toEqual(['user.created', 'user.updated']);
    for (const record of records) {
      expect(record.headers['version']).toBe('1.0');
      expect(record.headers['message_id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(records[0]!.payload).toEqual({ user_id: user.id, email: user.email, name: 'Kafka Reader', status: 'pending', created_at: user.createdAt.toISOString() });
    expect(records[1]!.payload).toMatchObject({ user_id: user.id, status: 'active' });

    // The relay marks rows published when its transaction commits, which may be just after delivery.
    expect(await unpublishedCount(user.id)).toBe(0);
  });
});
