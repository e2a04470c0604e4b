import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import type { Pool } from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { closeServer, createHttpApp, createLogger, createPool, Health, listen, Metrics, migrate, withTransaction } from '@msr/service-defaults';
import { DeadLetterAlreadyReplayedError, DeadLetterReplayError, deadLetterTopic } from './dead-letters.js';
import { deadLettersRouter } from './dead-letters.router.js';
import { createMessage, encodeMessage, InvalidMessageError, type MessageEnvelope } from './envelope.js';
import { InboxConsumer, type InboxContext } from './inbox-consumer.js';
import { createKafkaBus, type BusConsumer, type KafkaBus } from './kafka/kafka-bus.js';
import type { IncomingRecord } from './kafka/records.js';
import { eventsMigrations } from './migrations.js';
import { enqueueMessage } from './outbox.js';
import { OutboxRelay } from './outbox-relay.js';
import { deleteKafkaTestResources, testBrokers, waitFor } from './test-support.js';

// One relay, one consumer group and one topic for the whole file: a group join takes seconds.
const suffix = randomBytes(4).toString('hex');
const topic = `events-it-${suffix}`;
const groupId = `events-it-${suffix}`;
const dlqGroupId = `events-it-dlq-${suffix}`;
const logger = createLogger({ service: 'events-it', level: 'silent' });
const maxAttempts = 3;
const registry = new Registry();

let db: TestDatabase;
let pool: Pool;
let bus: KafkaBus;
let relay: OutboxRelay;
let consumer: InboxConsumer;
let dlqListener: BusConsumer;
/** Records republished to `<topic>.dlq`. */
const dlqRecords: IncomingRecord[] = [];
/** Handler calls per message id, failed ones included. */
const calls = new Map<string, number>();
/** Messages as the handler received them, and the record each came in. */
const received = new Map<string, MessageEnvelope<'user.created'>>();
const receivedFrom = new Map<string, InboxContext['record']>();
/** The handler waits for this gate for messages named `gated`. */
let gate: Promise<void> = Promise.resolve();
/** Names the handler fails for until healed (the "bug" a replay comes after). */
const broken = new Set<string>(['poison', 'fixable']);
/** Messages whose after-commit callback ran. */
const committed = new Set<string>();
/** For messages named `probe …`: their inbox row as another connection saw it while the handler ran. */
const inboxDuringHandling = new Map<string, { outcome: string; deliveries: number } | null>();

/** A `user.created` message; the test handler always fails for the name `poison`. */
function userCreated(name: string, key: string = randomUUID()): MessageEnvelope<'user.created'> {
  return createMessage(
    'user.created',
    { user_id: key, email: `${name.replaceAll(' ', '-')}@example.com`, name, status: 'pending', created_at: new Date().toISOString() },
    { key, causationId: randomUUID() },
  );
}

/** Writes `messages` to the outbox in one transaction, in order, for the relay to publish to the test topic. */
async function enqueue(...messages: MessageEnvelope[]): Promise<void> {
  await withTransaction(pool, async (tx) => {
    for (const message of messages) await enqueueMessage(tx, message, topic);
  });
}

async function effectsOf(messageId: string): Promise<number> {
  const { rows } = await pool.query<{ count: number }>('SELECT count(*)::int AS count FROM effects WHERE message_id = $1', [messageId]);
  return rows[0]?.count ?? 0;
}

async function inboxOutcome(messageId: string): Promise<string | undefined> {
  const { rows } = await pool.query<{ outcome: string }>('SELECT outcome FROM inbox WHERE message_id = $1 AND consumer = $2', [messageId, groupId]);
  return rows[0]?.outcome;
}

beforeAll(async () => {
  db = await createTestDatabase('events');
  pool = createPool(db.url, logger);
  await migrate(pool, [eventsMigrations], logger);
  // The handlers' "business effect": one row per processed message.
  await pool.query('CREATE TABLE effects (seq bigserial PRIMARY KEY, message_id uuid NOT NULL, name text NOT NULL)');
  bus = createKafkaBus({ clientId: `events-it-${suffix}`, brokers: testBrokers, logger });
  await bus.ensureTopics([topic]);
  relay = new OutboxRelay({ pool, bus, logger, pollIntervalMs: 100 });
  relay.start();
  consumer = new InboxConsumer({ bus, pool, groupId, topics: [topic], logger, metricsRegistry: registry, retry: { maxAttempts, baseDelayMs: 5, maxDelayMs: 20 } }).on(
    'user.created',
    async (message, tx, context) => {
      calls.set(message.id, (calls.get(message.id) ?? 0) + 1);
      received.set(message.id, message);
      receivedFrom.set(message.id, context.record);
      if (message.payload.name === 'gated') await gate;
      if (message.payload.name.startsWith('probe')) {
        const { rows } = await pool.query<{ outcome: string; deliveries: number }>('SELECT outcome, deliveries FROM inbox WHERE message_id = $1 AND consumer = $2', [message.id, groupId]);
        inboxDuringHandling.set(message.id, rows[0] ?? null);
      }
      if (broken.has(message.payload.name)) throw new Error('poison pill');
      await tx.query('INSERT INTO effects (message_id, name) VALUES ($1, $2)', [message.id, message.payload.name]);
      context.afterCommit(() => committed.add(message.id));
      if (message.payload.name === 'rolled back after effect') throw new InvalidMessageError('refused after writing');
    },
  );
  await consumer.start();
  // The consumer created the dead-letter topic when it started.
  dlqListener = bus.createConsumer(dlqGroupId);
  await dlqListener.start({ topics: [deadLetterTopic(topic)], partitionsConsumedConcurrently: 1, eachRecord: async (record) => void dlqRecords.push(record) });
});

afterAll(async () => {
  await dlqListener?.stop();
  await consumer?.stop();
  await relay?.stop();
  await bus?.disconnect();
  await deleteKafkaTestResources({ topics: [topic, deadLetterTopic(topic)], groups: [groupId, dlqGroupId] });
  await pool?.end();
  await db?.drop();
});

describe('events migrations', () => {
  it('create the outbox, inbox and dead_letters tables and apply only once', async () => {
    const { rows } = await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('outbox', 'inbox', 'dead_letters') ORDER BY table_name`,
    );
    expect(rows.map((row) => row.table_name)).toEqual(['dead_letters', 'inbox', 'outbox']);

    await migrate(pool, [eventsMigrations], logger);
    const { rows: applied } = await pool.query('SELECT name FROM pgmigrations_events');
    const files = readdirSync(new URL('../migrations', import.meta.url)).filter((file) => file.endsWith('.sql'));
    expect(applied).toHaveLength(files.length);
  });
});

describe('outbox relay and inbox consumer', () => {
  it('publish messages enqueued in a committed transaction, in order, and handle each once', async () => {
    const key = randomUUID();
    const messages = ['first', 'second', 'third'].map((name) => userCreated(name, key));
    await enqueue(...messages);

    await waitFor('three effects', async () => (await effectsOf(messages[2]!.id)) === 1);
    const { rows: effects } = await pool.query<{ message_id: string }>('SELECT message_id FROM effects WHERE message_id = ANY($1) ORDER BY seq', [messages.map((m) => m.id)]);
    expect(effects.map((row) => row.message_id)).toEqual(messages.map((m) => m.id));
    // Decoding requires the event_type and version headers: the handler got the envelope whole.
    for (const message of messages) expect(received.get(message.id)).toEqual(message);
    const { rows: outbox } = await pool.query('SELECT published_at, attempts, last_error FROM outbox WHERE id = ANY($1)', [messages.map((m) => m.id)]);
    expect(outbox).toEqual(messages.map(() => ({ published_at: expect.any(Date), attempts: 1, last_error: null })));
    expect(await inboxOutcome(messages[0]!.id)).toBe('processed');
  });

  it('publish nothing from a rolled-back transaction', async () => {
    const key = randomUUID();
    const rolledBack = userCreated('rolled back', key);
    const committed = userCreated('committed', key);

    await expect(
      withTransaction(pool, async (tx) => {
        await enqueueMessage(tx, rolledBack, topic);
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    await enqueue(committed);

    // The committed message comes after the rolled-back one on the same partition.
    await waitFor('the committed message', async () => (await effectsOf(committed.id)) === 1);
    expect(calls.has(rolledBack.id)).toBe(false);
    const { rowCount } = await pool.query('SELECT 1 FROM outbox WHERE id = $1', [rolledBack.id]);
    expect(rowCount).toBe(0);
  });

  it('treat enqueueing the same message id again as a no-op', async () => {
    const message = userCreated('enqueued twice');

    await enqueue(message);
    await enqueue(message);

    await waitFor('the message', async () => (await effectsOf(message.id)) === 1);
    const { rowCount } = await pool.query('SELECT 1 FROM outbox WHERE id = $1', [message.id]);
    expect(rowCount).toBe(1);
  });

  it('give a message delivered twice a single effect', async () => {
    const key = randomUUID();
    const message = userCreated('delivered twice', key);
    const after = userCreated('after the duplicate', key);

    await bus.producer().send([encodeMessage(message), encodeMessage(message), encodeMessage(after)].map((record) => ({ ...record, topic })));

    await waitFor('the message after the duplicate', async () => (await effectsOf(after.id)) === 1);
    expect(await effectsOf(message.id)).toBe(1);
    expect(calls.get(message.id)).toBe(1);
  });

  it('dead-letter a message whose handler keeps failing, to the table and to <topic>.dlq, and go on with the next one on the partition', async () => {
    const key = randomUUID();
    const poison = userCreated('poison', key);
    const next = userCreated('next', key);
    await enqueue(poison, next);

    await waitFor('the next message', async () => (await effectsOf(next.id)) === 1);
    expect(calls.get(poison.id)).toBe(maxAttempts);
    expect(await effectsOf(poison.id)).toBe(0);
    expect(await inboxOutcome(poison.id)).toBe('dead_lettered');
    const { rows } = await pool.query('SELECT consumer, topic, type, key, value::json AS payload, error, attempts FROM dead_letters WHERE message_id = $1', [poison.id]);
    expect(rows).toEqual([{ consumer: groupId, topic, type: 'user.created', key, payload: poison.payload, error: 'Error: poison pill', attempts: maxAttempts }]);
    const counted = (await registry.getSingleMetric('inbox_messages_total')?.get())?.values;
    expect(counted).toContainEqual({ labels: { consumer: groupId, type: 'user.created', outcome: 'dead_lettered' }, value: 1 });
    const pending = (await registry.getSingleMetric('dead_letters_pending')?.get())?.values;
    expect(pending).toContainEqual({ labels: { consumer: groupId }, value: expect.any(Number) });

    const dlq = await waitFor('the record on the dead-letter topic', async () => dlqRecords.find((record) => record.headers['message_id'] === poison.id));
    const source = receivedFrom.get(poison.id)!;
    expect(dlq.key).toBe(key);
    expect(JSON.parse(dlq.value ?? '')).toEqual(poison.payload);
    expect(dlq.headers).toMatchObject({
      ...encodeMessage(poison).headers,
      dlq_error: 'Error: poison pill',
      dlq_topic: topic,
      dlq_partition: String(source.partition),
      dlq_offset: source.offset,
      dlq_consumer: groupId,
      dlq_attempts: String(maxAttempts),
    });
  });

  it('replay a dead letter once its cause is fixed: one effect, recorded as replayed, refused a second time', async () => {
    const fixable = userCreated('fixable');
    await enqueue(fixable);
    const { id } = await waitFor('the dead letter', async () => (await pool.query<{ id: string }>('SELECT id FROM dead_letters WHERE message_id = $1', [fixable.id])).rows[0]);

    await expect(consumer.replay(id)).rejects.toBeInstanceOf(DeadLetterReplayError);
    expect((await pool.query('SELECT replay_attempts, last_replay_error, replayed_at FROM dead_letters WHERE id = $1', [id])).rows[0]).toEqual({
      replay_attempts: 1,
      last_replay_error: 'Error: poison pill',
      replayed_at: null,
    });

    broken.delete('fixable');
    expect(await consumer.replay(id)).toEqual({ deadLetterId: id, outcome: 'processed', replayedAt: expect.any(String) });
    expect(await effectsOf(fixable.id)).toBe(1);
    expect(await inboxOutcome(fixable.id)).toBe('processed');
    expect(committed.has(fixable.id)).toBe(true);
    await expect(consumer.replay(id)).rejects.toBeInstanceOf(DeadLetterAlreadyReplayedError);
    expect(await effectsOf(fixable.id)).toBe(1);
  });

  it('serve the dead letters to operators: list them, replay one over HTTP', async () => {
    const message = userCreated('fixable over http');
    broken.add('fixable over http');
    await enqueue(message);
    const { id } = await waitFor('the dead letter', async () => (await pool.query<{ id: string }>('SELECT id FROM dead_letters WHERE message_id = $1', [message.id])).rows[0]);
    const app = createHttpApp({ logger, health: new Health(), metrics: new Metrics('events-it'), routes: (routes) => routes.use(deadLettersRouter({ pool, consumers: [consumer] })) });
    const { server, port } = await listen(app, 0, '127.0.0.1');
    const call = async (method: string, path: string) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> & { data?: Array<Record<string, unknown>> } };
    };
    try {
      const pending = await call('GET', `/admin/dead-letters?status=pending&consumer=${groupId}`);
      expect(pending.status).toBe(200);
      expect(pending.body.data).toContainEqual(expect.objectContaining({ id, message_id: message.id, topic, consumer: groupId, error: 'Error: poison pill', replayed_at: null }));
      expect((await call('GET', '/admin/dead-letters?status=sideways')).status).toBe(400);
      expect((await call('POST', `/admin/dead-letters/${randomUUID()}/replay`)).body).toMatchObject({ status: 404, code: 'DEAD_LETTER.NOT_FOUND' });
      expect((await call('POST', `/admin/dead-letters/${id}/replay`)).body).toMatchObject({ status: 422, code: 'DEAD_LETTER.REPLAY_FAILED', reason: 'Error: poison pill' });

      broken.delete('fixable over http');
      expect(await call('POST', `/admin/dead-letters/${id}/replay`)).toEqual({ status: 200, body: { dead_letter_id: id, outcome: 'processed', replayed_at: expect.any(String) } });
      expect((await call('POST', `/admin/dead-letters/${id}/replay`)).body).toMatchObject({ status: 409, code: 'DEAD_LETTER.ALREADY_REPLAYED' });
      expect((await call('GET', `/admin/dead-letters/${id}`)).body).toMatchObject({ id, replayed_at: expect.any(String), replay_attempts: 2 });
      expect(await effectsOf(message.id)).toBe(1);
    } finally {
      await closeServer(server);
    }
  });

  it('dead-letter a message that crashed its consumer on every delivery, without running its handler again', async () => {
    const crasher = userCreated('crashed the consumer three times');
    const survivor = userCreated('crashed the consumer once', crasher.key);
    // What three (and one) deliveries that each died mid-handler left behind: claimed inbox rows never committed further.
    await pool.query(`INSERT INTO inbox (message_id, consumer, type, outcome, deliveries) VALUES ($1, $3, 'user.created', 'in_progress', 3), ($2, $3, 'user.created', 'in_progress', 1)`, [
      crasher.id,
      survivor.id,
      groupId,
    ]);

    await enqueue(crasher, survivor);

    await waitFor('the message after the crasher', async () => (await effectsOf(survivor.id)) === 1);
    expect(calls.has(crasher.id)).toBe(false);
    expect(await inboxOutcome(crasher.id)).toBe('dead_lettered');
    const { rows } = await pool.query('SELECT error, attempts FROM dead_letters WHERE message_id = $1', [crasher.id]);
    expect(rows).toEqual([{ error: expect.stringMatching(/^PoisonMessageError: delivered 4 times/), attempts: 3 }]);
  });

  it('claim a delivery first only where a crash may have interrupted one: after an assignment, until a record of the partition is handled', async () => {
    // A new assignment: stopping and starting the member rejoins the group.
    await consumer.stop();
    await consumer.start();
    const key = randomUUID();
    const afterAssignment = userCreated('probe after the assignment', key);
    const steady = userCreated('probe in steady state', key);
    await enqueue(afterAssignment, steady);

    await waitFor('both probes', async () => (await effectsOf(steady.id)) === 1);
    // The first record of the partition was claimed (committed on its own) before its handler ran.
    expect(inboxDuringHandling.get(afterAssignment.id)).toEqual({ outcome: 'in_progress', deliveries: 1 });
    // The next one was new to the group: its inbox row commits with its handling only.
    expect(inboxDuringHandling.get(steady.id)).toBeNull();
    expect(await effectsOf(afterAssignment.id)).toBe(1);
    expect(await inboxOutcome(afterAssignment.id)).toBe('processed');
    expect(await inboxOutcome(steady.id)).toBe('processed');
  });

  it('run after-commit callbacks only for committed handling', async () => {
    const refused = userCreated('rolled back after effect');
    const accepted = userCreated('accepted', refused.key);
    await enqueue(refused, accepted);

    await waitFor('the accepted message', async () => (await effectsOf(accepted.id)) === 1);
    expect(committed.has(accepted.id)).toBe(true);
    expect(calls.get(refused.id)).toBe(1);
    expect(committed.has(refused.id)).toBe(false);
    expect(await effectsOf(refused.id)).toBe(0);
    expect(await inboxOutcome(refused.id)).toBe('dead_lettered');
  });

  it('commit the Kafka offset of a message only after its transaction has committed', async () => {
    let open!: () => void;
    gate = new Promise((resolve) => (open = resolve));
    const message = userCreated('gated');
    await enqueue(message);
    const source = await waitFor('the handler to hold the message', async () => receivedFrom.get(message.id));
    const admin = new Kafka({ clientId: `events-it-offsets-${suffix}`, brokers: testBrokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const committedOffset = async () => {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return Number(offsets?.partitions.find((partition) => partition.partition === source.partition)?.offset ?? -1);
    };
    try {
      // While the handler holds its transaction open, the group's offset has not passed the record.
      expect(await committedOffset()).toBeLessThanOrEqual(Number(source.offset));
      expect(await effectsOf(message.id)).toBe(0);

      open();

      await waitFor('the offset to pass the record', async () => (await committedOffset()) > Number(source.offset));
      expect(await effectsOf(message.id)).toBe(1);
    } finally {
      open();
      await admin.disconnect();
    }
  });

  it('commit handled offsets once per interval rather than per batch, and at once when the member stops', async () => {
    const lateGroup = `events-it-late-commits-${suffix}`;
    const lateBus = createKafkaBus({ clientId: `events-it-late-${suffix}`, brokers: testBrokers, logger, consumer: { commitIntervalMs: 600_000 } });
    const seen = new Map<string, IncomingRecord>();
    const member = lateBus.createConsumer(lateGroup);
    const admin = new Kafka({ clientId: `events-it-late-admin-${suffix}`, brokers: testBrokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await member.start({ topics: [topic], partitionsConsumedConcurrently: 1, eachRecord: async (record) => void seen.set(record.headers['message_id'] ?? '', record) });
      const message = userCreated('committed late');
      await enqueue(message);
      const record = await waitFor('the member to handle the message', async () => seen.get(message.id));
      const committedOffset = async () => {
        const [offsets] = await admin.fetchOffsets({ groupId: lateGroup, topics: [topic] });
        return Number(offsets?.partitions.find((partition) => partition.partition === record.partition)?.offset ?? -1);
      };
      // Handled, but its commit waits for the interval (ten minutes here).
      expect(await committedOffset()).toBe(-1);

      await member.stop();

      expect(await committedOffset()).toBe(Number(record.offset) + 1);
    } finally {
      await member.stop();
      await lateBus.disconnect();
      await admin.disconnect();
      await deleteKafkaTestResources({ topics: [], groups: [lateGroup] });
    }
  });

  it('publish after a restart what a crashed process committed but never sent, or sent but never marked: one effect each', async () => {
    // The process dies: its relay stops publishing.
    await relay.stop();
    const key = randomUUID();
    const neverSent = userCreated('committed, then the process died', key);
    const neverMarked = userCreated('sent, then the process died', key);
    await enqueue(neverSent, neverMarked);
    // The dead relay had sent the second one to Kafka; its commit of published_at never happened.
    await bus.producer().send([{ topic, ...encodeMessage(neverMarked) }]);
    await waitFor('the message sent before the crash', async () => (await effectsOf(neverMarked.id)) === 1);
    const { rows: unpublished } = await pool.query('SELECT id FROM outbox WHERE id = ANY($1) AND published_at IS NULL', [[neverSent.id, neverMarked.id]]);
    expect(unpublished).toHaveLength(2);
    expect(await effectsOf(neverSent.id)).toBe(0);

    // The restarted process's relay publishes both rows (the second a second time).
    relay = new OutboxRelay({ pool, bus, logger, pollIntervalMs: 100 });
    relay.start();
    const after = userCreated('after the restart', key);
    await enqueue(after);

    // Same key, same partition: once the last one is handled, the redelivered one has been seen.
    await waitFor('the message after the restart', async () => (await effectsOf(after.id)) === 1);
    expect(await effectsOf(neverSent.id)).toBe(1);
    expect(await effectsOf(neverMarked.id)).toBe(1);
    expect(calls.get(neverMarked.id)).toBe(1);
    const { rows: published } = await pool.query('SELECT id FROM outbox WHERE id = ANY($1) AND published_at IS NOT NULL', [[neverSent.id, neverMarked.id]]);
    expect(published).toHaveLength(2);
  });

  it('dead-letter invalid records without calling a handler', async () => {
    const key = randomUUID();
    const badPayload = { ...encodeMessage(userCreated('bad payload', key)), value: JSON.stringify({ name: 'no user id' }) };
    const noHeaders = { key, value: '{}', headers: {} };
    const valid = userCreated('valid after invalid', key);

    await bus.producer().send([badPayload, noHeaders, encodeMessage(valid)].map((record) => ({ ...record, topic })));

    await waitFor('the valid message', async () => (await effectsOf(valid.id)) === 1);
    const { rows } = await pool.query<{ message_id: string | null; error: string; value: string; attempts: number }>(
      'SELECT message_id, error, value, attempts FROM dead_letters WHERE key = $1 ORDER BY "offset"',
      [key],
    );
    expect(rows).toEqual([
      { message_id: badPayload.headers['message_id'], error: expect.stringMatching(/^InvalidMessageError: invalid user.created payload/), value: badPayload.value, attempts: 0 },
      { message_id: null, error: expect.stringMatching(/^InvalidMessageError: invalid headers/), value: '{}', attempts: 0 },
    ]);
    expect(calls.has(badPayload.headers['message_id']!)).toBe(false);
  });

  it('record a message type without a handler as skipped', async () => {
    const key = randomUUID();
    const deleted = createMessage('user.deleted', { user_id: key, deleted_at: new Date().toISOString() }, { key });

    await enqueue(deleted);

    expect(await waitFor('the inbox row', () => inboxOutcome(deleted.id))).toBe('skipped');
  });
});
