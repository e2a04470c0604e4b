import { randomBytes, randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { createLogger, createPool, migrate, withTransaction } from '@msr/service-defaults';
import { createMessage, type MessageEnvelope } from './envelope.js';
import { createKafkaBus, type KafkaBus } from './kafka/kafka-bus.js';
import { eventsMigrations } from './migrations.js';
import { enqueueMessage, withOutboxTransaction } from './outbox.js';
import { OutboxRelay } from './outbox-relay.js';
import { deleteKafkaTestResources, testBrokers, waitFor } from './test-support.js';

const suffix = randomBytes(4).toString('hex');
const topic = `events-relay-it-${suffix}`;
/** Created only halfway through a test, to make the relay's sends fail until then. */
const missingTopic = `events-relay-missing-${suffix}`;
/** Never created: a message to it stays unpublished. */
const neverCreatedTopic = `events-relay-never-${suffix}`;
const logger = createLogger({ service: 'events-relay-it', level: 'silent' });

let db: TestDatabase;
let pool: Pool;
let bus: KafkaBus;

function userDeleted(): MessageEnvelope<'user.deleted'> {
  const userId = randomUUID();
  return createMessage('user.deleted', { user_id: userId, deleted_at: new Date().toISOString() }, { key: userId });
}

async function outboxRow(id: string) {
  const { rows } = await pool.query<{ published_at: Date | null; attempts: number; last_error: string | null }>(
    'SELECT published_at, attempts, last_error FROM outbox WHERE id = $1',
    [id],
  );
  return rows[0];
}

async function metric(registry: Registry, name: string): Promise<number | undefined> {
  const json = await registry.getSingleMetric(name)?.get();
  return json?.values[0]?.value;
}

async function listeningConnections(): Promise<number> {
  const { rows } = await pool.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE '%:outbox-relay'`,
  );
  return rows[0]?.count ?? 0;
}

/** The test bus, recording the message ids of each producer send (one batch each). */
function recordingSends(): { sends: string[][]; spied: KafkaBus } {
  const sends: string[][] = [];
  const spied: KafkaBus = {
    ...bus,
    producer: () => ({
      send: async (records) => {
        sends.push(records.map((record) => record.headers['message_id']!));
        await bus.producer().send(records);
      },
    }),
  };
  return { sends, spied };
}

beforeAll(async () => {
  db = await createTestDatabase('events_relay');
  pool = createPool(db.url, logger);
  await migrate(pool, [eventsMigrations], logger);
  bus = createKafkaBus({ clientId: `events-relay-it-${suffix}`, brokers: testBrokers, logger });
  await bus.ensureTopics([topic]);
});

afterAll(async () => {
  await bus?.disconnect();
  await deleteKafkaTestResources({ topics: [topic, missingTopic, neverCreatedTopic] });
  await pool?.end();
  await db?.drop();
});

describe('OutboxRelay', () => {
  it('publishes what one transaction enqueued as one batch of the idempotent producer, in order', async () => {
    const { sends, spied } = recordingSends();
    const relay = new OutboxRelay({ pool, bus: spied, logger, pollIntervalMs: 60_000, batchSize: 100 });
    const messages = Array.from({ length: 40 }, () => userDeleted());
    await withTransaction(pool, async (tx) => {
      for (const message of messages) await enqueueMessage(tx, message, topic);
    });
    relay.start();
    try {
      await waitFor('the batch to be published', async () => (await outboxRow(messages.at(-1)!.id))?.published_at);
    } finally {
      await relay.stop();
    }
    expect(sends).toEqual([messages.map((message) => message.id)]);
  });

  it('wakes on the commit notification instead of waiting for the next poll, and releases its connection on stop', async () => {
    // Polling would take a minute: only the NOTIFY from enqueueMessage can wake it in time.
    const relay = new OutboxRelay({ pool, bus, logger, pollIntervalMs: 60_000 });
    relay.start();
    try {
      await waitFor('the LISTEN connection', async () => (await listeningConnections()) === 1);
      const message = userDeleted();

      await withTransaction(pool, (tx) => enqueueMessage(tx, message, topic));

      await waitFor('the message to be published', async () => (await outboxRow(message.id))?.published_at, 5_000);
    } finally {
      await relay.stop();
    }
    await waitFor('the LISTEN connection to close', async () => (await listeningConnections()) === 0);
  });

  it('is woken right after the commit of an outbox transaction (which sends its notification after the commit)', async () => {
    // Polling would take a minute: only the notification after the commit can wake it in time.
    const relay = new OutboxRelay({ pool, bus, logger, pollIntervalMs: 60_000 });
    relay.start();
    try {
      await waitFor('the LISTEN connection', async () => (await listeningConnections()) === 1);
      // The relay's first pass found nothing; now it waits for a notification.
      const message = userDeleted();

      await withOutboxTransaction(pool, (tx) => enqueueMessage(tx, message, topic));

      await waitFor('the message to be published', async () => (await outboxRow(message.id))?.published_at, 5_000);
    } finally {
      await relay.stop();
    }
  });

  it('lingers after a wake-up, so that messages committed in separate transactions at about the same time go out in one batch', async () => {
    const { sends, spied } = recordingSends();
    // A linger far longer than two commits take, so that the second one surely lands in it.
    const relay = new OutboxRelay({ pool, bus: spied, logger, pollIntervalMs: 60_000, lingerMs: 1_000 });
    relay.start();
    try {
      await waitFor('the LISTEN connection', async () => (await listeningConnections()) === 1);
      const [first, second] = [userDeleted(), userDeleted()];

      await withTransaction(pool, (tx) => enqueueMessage(tx, first, topic));
      await withTransaction(pool, (tx) => enqueueMessage(tx, second, topic));

      await waitFor('both messages to be published', async () => (await outboxRow(second.id))?.published_at, 5_000);
    } finally {
      await relay.stop();
    }
    expect(sends).toEqual([[expect.any(String), expect.any(String)]]);
  });

  it('writes nothing for a rolled-back outbox transaction', async () => {
    const message = userDeleted();
    await expect(
      withOutboxTransaction(pool, async (tx) => {
        await enqueueMessage(tx, message, topic);
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    expect(await outboxRow(message.id)).toBeUndefined();
  });

  it('lets one of several relays on a database publish at a time, and another take over when it stops', async () => {
    const sentBy = { first: [] as string[], second: [] as string[] };
    const spy = (name: 'first' | 'second'): KafkaBus => ({
      ...bus,
      producer: () => ({
        send: async (records) => {
          sentBy[name].push(...records.map((record) => record.headers['message_id']!));
          await bus.producer().send(records);
        },
      }),
    });
    const first = new OutboxRelay({ pool, bus: spy('first'), logger, pollIntervalMs: 50 });
    const second = new OutboxRelay({ pool, bus: spy('second'), logger, pollIntervalMs: 50 });
    first.start();
    try {
      await waitFor('the first relay to take the publishing lock', async () => (await pool.query(`SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = current_database() AND l.locktype = 'advisory' AND l.granted`)).rowCount === 1);
      second.start();
      const early = Array.from({ length: 5 }, () => userDeleted());
      for (const message of early) await withOutboxTransaction(pool, (tx) => enqueueMessage(tx, message, topic));
      await waitFor('the early messages to be published', async () => (await outboxRow(early.at(-1)!.id))?.published_at);
      expect(sentBy.first).toEqual(expect.arrayContaining(early.map((message) => message.id)));
      expect(sentBy.second).toEqual([]);

      await first.stop();
      const late = userDeleted();
      await withOutboxTransaction(pool, (tx) => enqueueMessage(tx, late, topic));

      await waitFor('the second relay to publish', async () => (await outboxRow(late.id))?.published_at);
      expect(sentBy.second).toContain(late.id);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });

  it('records a failing send on the row, keeps retrying, and publishes once the cause is fixed', async () => {
    const registry = new Registry();
    const relay = new OutboxRelay({ pool, bus, logger, metricsRegistry: registry, pollIntervalMs: 100 });
    const message = userDeleted();
    relay.start();
    try {
      // Topics are never auto-created, so a send to a topic nobody created fails.
      await withTransaction(pool, (tx) => enqueueMessage(tx, message, missingTopic));

      const failed = await waitFor('a failed attempt', async () => {
        const row = await outboxRow(message.id);
        return row && row.attempts >= 2 ? row : undefined;
      });
      expect(failed.published_at).toBeNull();
      expect(failed.last_error).toMatch(/topic|partition/i);
      expect(await metric(registry, 'outbox_oldest_unpublished_age_seconds')).toBeGreaterThan(0);

      await bus.ensureTopics([missingTopic]);

      await waitFor('the message to be published', async () => (await outboxRow(message.id))?.published_at);
      expect(await metric(registry, 'outbox_published_total')).toBe(1);
      expect(await metric(registry, 'outbox_oldest_unpublished_age_seconds')).toBe(0);
    } finally {
      await relay.stop();
    }
  });

  it('deletes published rows past the retention, oldest first, and keeps recent and unpublished ones', async () => {
    const registry = new Registry();
    const [old, recent, unpublished] = [userDeleted(), userDeleted(), userDeleted()];
    await withTransaction(pool, async (tx) => {
      await enqueueMessage(tx, old, topic);
      await enqueueMessage(tx, recent, topic);
    });
    const publisher = new OutboxRelay({ pool, bus, logger, pollIntervalMs: 50, retentionMs: Infinity });
    publisher.start();
    try {
      await waitFor('both to be published', async () => (await outboxRow(recent.id))?.published_at);
    } finally {
      await publisher.stop();
    }
    await pool.query(`UPDATE outbox SET published_at = now() - interval '2 minutes' WHERE id = $1`, [old.id]);
    // Old, but never published: not the relay's to delete.
    await withTransaction(pool, (tx) => enqueueMessage(tx, unpublished, neverCreatedTopic));
    await pool.query(`UPDATE outbox SET created_at = now() - interval '2 minutes' WHERE id = $1`, [unpublished.id]);

    const relay = new OutboxRelay({ pool, bus, logger, metricsRegistry: registry, pollIntervalMs: 50, retentionMs: 60_000, pruneIntervalMs: 50 });
    relay.start();
    try {
      await waitFor('the old row to be pruned', async () => (await outboxRow(old.id)) === undefined);
      // A few more rounds: the others stay.
      await waitFor('the unpublished row to be tried twice', async () => ((await outboxRow(unpublished.id))?.attempts ?? 0) >= 2);
    } finally {
      await relay.stop();
    }
    expect(await outboxRow(recent.id)).toEqual(expect.objectContaining({ published_at: expect.any(Date) }));
    expect(await outboxRow(unpublished.id)).toEqual(expect.objectContaining({ published_at: null }));
    expect(await metric(registry, 'outbox_pruned_total')).toBe(1);
    await pool.query('DELETE FROM outbox WHERE id = $1', [unpublished.id]);
  });
});
