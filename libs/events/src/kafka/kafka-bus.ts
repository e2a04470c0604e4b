import { Kafka, Partitioners, type Admin, type Message } from 'kafkajs';
import type { Logger } from '@msr/service-defaults';
import { defaultPartitions } from '../topics.js';
import { kafkaLogLevel, pinoLogCreator } from './log-creator.js';
import { OffsetCommits } from './offset-commits.js';
import { headersToStrings, type IncomingRecord, type OutgoingRecord } from './records.js';

/** Where and as whom to connect to Kafka. */
export interface KafkaBusOptions {
  /** Names this process to the broker (logs, quotas), e.g. `user-service`. */
  clientId: string;
  /** Bootstrap brokers as `host:port`. */
  brokers: string[];
  logger: Logger;
  /**
   * Group membership timing, in ms. A member that stops heartbeating (a `kill -9`) holds its
   * partitions until `sessionTimeoutMs` passes, and a restarted process cannot finish joining
   * before then; kafkajs has no static membership (KIP-345) to skip that wait, so the default is
   * the broker's minimum, 6000 (`group.min.session.timeout.ms`), with a heartbeat every 1000.
   * `commitIntervalMs`: how long a handled record's offset may wait before it is committed
   * (see `OffsetCommits`); default {@link defaultCommitIntervalMs}.
   */
  consumer?: { sessionTimeoutMs?: number; heartbeatIntervalMs?: number; commitIntervalMs?: number };
}

/** The session timeout of group members unless `KafkaBusOptions.consumer` says otherwise, in ms. */
export const defaultSessionTimeoutMs = 6_000;
/** How often group members heartbeat unless `KafkaBusOptions.consumer` says otherwise, in ms. */
export const defaultHeartbeatIntervalMs = 1_000;
/**
 * Longest wait of a handled record's offset for its commit unless `KafkaBusOptions.consumer` says
 * otherwise, in ms: the records a crashed member's successor reads again (and its inbox skips).
 */
export const defaultCommitIntervalMs = 1_000;

/**
 * Publishes records with the process's one idempotent producer. Used by the outbox relay; apps
 * publish through the outbox (`enqueueMessage`), never directly.
 */
export interface BusProducer {
  /**
   * Publishes the records with acks from all in-sync replicas; records of one topic and key keep
   * their order. Connects on first use.
   *
   * @throws the kafkajs error once its short retry budget is spent (some records may have been
   * written: delivery is at least once).
   */
  send(records: readonly OutgoingRecord[]): Promise<void>;
}

/** How a group consumer processes records. */
export interface BusConsumerRun {
  topics: readonly string[];
  /** Partitions handled at the same time; one partition's records are always handled in order. */
  partitionsConsumedConcurrently: number;
  /**
   * Handles one record. The record's offset is committed only after this resolves (within the
   * commit interval, in one request with the other partitions'); when it throws, kafkajs retries
   * and finally restarts the consumer, so the record is delivered again.
   */
  eachRecord: (record: IncomingRecord) => Promise<void>;
  /** Called when kafkajs gives up on the consumer for good (a non-retriable error). */
  onFatal?: (error: Error) => void;
}

/** One member of a consumer group. */
export interface BusConsumer {
  /**
   * Subscribes (a new group reads from the beginning) and starts consuming.
   * Resolves once the member has joined the group.
   *
   * @throws when connecting, subscribing or joining fails (e.g. a topic does not exist).
   */
  start(run: BusConsumerRun): Promise<void>;
  /** Finishes the record in hand, commits the handled offsets, leaves the group and disconnects. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The process's connection to Kafka; kafkajs stays behind this interface. Apps create one with
 * {@link createKafkaBus}, call {@link KafkaBus.ensureTopics} at start-up, hand it to
 * `OutboxRelay` and `InboxConsumer`, and call {@link KafkaBus.disconnect} last on shutdown.
 */
export interface KafkaBus {
  /**
   * Creates each missing topic with {@link defaultPartitions} partitions and replication factor 1
   * and waits until every partition has a leader. Idempotent; safe when several processes race.
   *
   * @throws when the broker cannot be reached or refuses a topic (e.g. an invalid name).
   */
  ensureTopics(topics: readonly string[]): Promise<void>;
  /** Disconnects every consumer still running, the producer and the admin client. */
  disconnect(): Promise<void>;
  /** The shared idempotent producer (internal to `@msr/events`: used by `OutboxRelay` and tests). */
  producer(): BusProducer;
  /** A new member of consumer group `groupId` (internal to `@msr/events`: used by `InboxConsumer`). */
  createConsumer(groupId: string): BusConsumer;
}

/** A lazily opened connection that can be retried after a failed attempt. */
function lazyConnection(connect: () => Promise<void>) {
  let connecting: Promise<void> | undefined;
  return {
    open: (): Promise<void> =>
      (connecting ??= connect().catch((error: unknown) => {
        connecting = undefined;
        throw error;
      })),
    get opened() {
      return connecting !== undefined;
    },
  };
}

/** Group joins of every consumer in this process: each numbers an assignment (`IncomingRecord.assignment`) uniquely. */
let joins = 0;

/**
 * Creates the Kafka connection of one process (kafkajs 2). The producer is idempotent with one
 * request in flight, so broker retries neither duplicate nor reorder records, and is replaced by a
 * new one (a new producer id) after a failed send; kafkajs logs go to
 * `logger`; retries are short (100 ms doubling to 2 s, 5 retries) so that failures surface to the
 * outbox relay and consumer, which own the longer-term retrying. Topics are never auto-created:
 * a message to an unknown topic fails loudly instead of creating a topic nobody reads.
 * Nothing connects until first use.
 */
export function createKafkaBus(options: KafkaBusOptions): KafkaBus {
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    logLevel: kafkaLogLevel(options.logger),
    logCreator: pinoLogCreator(options.logger),
    retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 5 },
  });
  const newProducer = () => {
    const instance = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // The default since kafkajs 2 (murmur2, as the Java client); naming it silences kafkajs' warning.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    return { instance, connection: lazyConnection(() => instance.connect()) };
  };
  let current = newProducer();
  const admin: Admin = kafka.admin();
  const adminConnection = lazyConnection(() => admin.connect());
  const running = new Set<BusConsumer>();

  const producer: BusProducer = {
    async send(records) {
      if (records.length === 0) return;
      const used = current;
      await used.connection.open();
      const byTopic = new Map<string, Message[]>();
      for (const record of records) {
        const messages = byTopic.get(record.topic) ?? [];
        messages.push({ key: record.key, value: record.value, headers: record.headers });
        byTopic.set(record.topic, messages);
      }
      try {
        await used.instance.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
      } catch (error) {
        // A failed send may have reached the log all the same (a broker restart mid-request), and the
        // next one carries other records: kafkajs then numbers them out of the broker's sequence and
        // fails every later send with OUT_OF_ORDER_SEQUENCE_NUMBER, for good (the Java client bumps
        // its epoch instead). A new producer gets a new producer id; what it sends twice, the inbox absorbs.
        if (current === used) {
          current = newProducer();
          options.logger.warn({ err: error }, 'kafka send failed; the next send uses a new idempotent producer');
          void used.instance.disconnect().catch(() => undefined);
        }
        throw error;
      }
    },
  };

  return {
    async ensureTopics(topics) {
      await adminConnection.open();
      const existing = new Set(await admin.listTopics());
      const missing = [...new Set(topics)].filter((topic) => !existing.has(topic));
      if (missing.length > 0) {
        // Returns false (no error) for topics another process created in the meantime.
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({ topic, numPartitions: defaultPartitions, replicationFactor: 1 })),
        });
        options.logger.info({ topics: missing }, 'kafka topics created');
      }
    },

    async disconnect() {
      await Promise.all([...running].map((consumer) => consumer.stop()));
      if (current.connection.opened) await current.instance.disconnect();
      if (adminConnection.opened) await admin.disconnect();
    },

    producer: () => producer,

    createConsumer(groupId) {
      // A fetch long-polls up to maxWaitTimeInMs and stopping waits for it: 1 s keeps shutdown quick.
      const consumer = kafka.consumer({
        groupId,
        allowAutoTopicCreation: false,
        maxWaitTimeInMs: 1_000,
        sessionTimeout: options.consumer?.sessionTimeoutMs ?? defaultSessionTimeoutMs,
        heartbeatInterval: options.consumer?.heartbeatIntervalMs ?? defaultHeartbeatIntervalMs,
        // kafkajs restarts a crashed consumer only for retriable errors (a broker restart, a
        // rebalance); this keeps doing so however long the broker is away.
        retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 5, restartOnFailure: async () => true },
      });
      // kafkajs' auto-commit sends one OffsetCommit per fetched batch; these are batched instead.
      const commits = new OffsetCommits({
        intervalMs: options.consumer?.commitIntervalMs ?? defaultCommitIntervalMs,
        commit: (positions) => consumer.commitOffsets(positions),
        onError: (error, positions) => options.logger.warn({ err: error, group_id: groupId, partitions: positions.length }, 'kafka offset commit failed; retrying'),
      });
      let assignment = 0;
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        joins += 1;
        assignment = joins;
        commits.assigned(payload.memberAssignment);
      });
      const handling = new Set<Promise<void>>();
      let topics: readonly string[] = [];
      const member: BusConsumer = {
        async start(run) {
          topics = run.topics;
          running.add(member);
          consumer.on(consumer.events.CRASH, ({ payload }) => {
            const fields = { err: payload.error, group_id: groupId, restart: payload.restart };
            if (payload.restart) {
              options.logger.warn(fields, 'kafka consumer crashed; kafkajs restarts it');
              return;
            }
            options.logger.error(fields, 'kafka consumer crashed for good; the process must be restarted');
            run.onFatal?.(payload.error);
          });
          const joined = new Promise<void>((resolve, reject) => {
            const removeJoin = consumer.on(consumer.events.GROUP_JOIN, () => {
              removeJoin();
              removeCrash();
              resolve();
            });
            const removeCrash = consumer.on(consumer.events.CRASH, ({ payload }) => {
              removeJoin();
              removeCrash();
              reject(payload.error);
            });
          });
          // Observed below only once running; a crash before that must not go unhandled.
          joined.catch(() => undefined);
          try {
            await consumer.connect();
            await consumer.subscribe({ topics: [...run.topics], fromBeginning: true });
            await consumer.run({
              autoCommit: false,
              partitionsConsumedConcurrently: run.partitionsConsumedConcurrently,
              eachMessage: async ({ topic, partition, message }) => {
                const handled = run.eachRecord({
                  topic,
                  partition,
                  offset: message.offset,
                  key: message.key?.toString() ?? null,
                  value: message.value?.toString() ?? null,
                  headers: headersToStrings(message.headers),
                  assignment,
                });
                handling.add(handled);
                try {
                  await handled;
                } finally {
                  handling.delete(handled);
                }
                commits.handled(topic, partition, message.offset);
              },
            });
            await joined;
          } catch (error) {
            running.delete(member);
            commits.close();
            await consumer.disconnect().catch(() => undefined);
            throw error;
          }
        },
        async stop() {
          if (!running.delete(member)) return;
          try {
            // Still a member: pause, let the records in hand finish, commit what was handled, then leave.
            consumer.pause(topics.map((topic) => ({ topic })));
            while (handling.size > 0) await Promise.allSettled([...handling]);
            await commits.flush();
          } catch (error) {
            // pause() throws while kafkajs restarts the consumer or after it gave up: nothing to commit through.
            options.logger.debug({ err: error, group_id: groupId }, 'kafka consumer stopped without committing its last offsets');
          } finally {
            commits.close();
          }
          await consumer.disconnect();
        },
      };
      return member;
    },
  };
}
