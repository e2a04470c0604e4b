import { BreakerRegistry } from '@msr/circuit-breaker';
import { ServiceHttpClient, type InstanceSource } from '@msr/discovery';
import { createKafkaBus, eventsMigrations, InboxConsumer, OutboxRelay, Topics, type KafkaBus } from '@msr/events';
import { sagaMigrations, SagaOrchestrator, type RetryPolicy } from '@msr/saga';
import { createPool, Health, migrate, type Logger, type Metrics } from '@msr/service-defaults';
import type { Express } from 'express';
import type pg from 'pg';
import { createApp } from './app.js';
import { createPlaceOrderSaga } from './application/place-order/place-order.saga.js';
import { PlaceOrderService } from './application/place-order/place-order.service.js';
import { OrderQueries } from './application/queries/order.queries.js';
import { SagaOperations } from './application/sagas/saga-operations.js';
import type { Config } from './config.js';
import { orderServiceMigrations } from './infrastructure/order-service.migrations.js';
import { PgInventoryRepository } from './infrastructure/pg-inventory.repository.js';
import { PgOrderRepository } from './infrastructure/pg-order.repository.js';
import { PgProductRepository } from './infrastructure/pg-product.repository.js';
import { HttpUserDirectory } from './infrastructure/user-service.client.js';
import { registerSagaReplyHandlers } from './interface/messaging/saga-replies.handlers.js';

/** The topics order-service writes and reads; injectable so tests can use their own. */
export interface OrderServiceTopics {
  /** `order.created`, `order.approved`, `order.rejected`. */
  orderEvents: string;
  /** `payment.authorize`, `payment.refund`. */
  paymentCommands: string;
  /** Replies to the PlaceOrder saga. */
  orderSagaReplies: string;
}

/** The system's topics from `@msr/events`. */
export const defaultOrderServiceTopics: Readonly<OrderServiceTopics> = Object.freeze({
  orderEvents: Topics.orderEvents,
  paymentCommands: Topics.paymentCommands,
  orderSagaReplies: Topics.orderSagaReplies,
});

/** What {@link wireOrderService} needs. */
export interface OrderServiceOptions {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** Where user-service's instances come from: a `ServiceDiscovery` in `main.ts`. */
  discovery: InstanceSource;
  topics?: OrderServiceTopics;
  /** Kafka consumer group of the reply consumer; default `order-service`. */
  consumerGroupId?: string;
}

/** The wired order-service: its HTTP app and the parts that run beside it. */
export interface OrderService {
  app: Express;
  health: Health;
  pool: pg.Pool;
  bus: KafkaBus;
  relay: OutboxRelay;
  consumer: InboxConsumer;
  orchestrator: SagaOrchestrator;
  http: ServiceHttpClient;
  /**
   * Starts the outbox relay, resumes unfinished sagas, starts periodic recovery, and starts the
   * reply consumer in the background: nothing waits for the group join, which after a crash takes
   * up to the Kafka session timeout. Resolves once recovery has started; `consumerJoined`
   * resolves once the consumer has joined.
   */
  start(): Promise<{ consumerJoined: Promise<void> }>;
  /** Stops what `start` started and closes every client, in dependency order. */
  stop(): Promise<void>;
}

/**
 * Builds order-service from its configuration (the composition `main.ts` and the in-process
 * end-to-end test share): migrates the `orders` database (events, saga and own tables), connects
 * to Kafka and creates the topics, and wires repositories, the PlaceOrder saga, its orchestrator,
 * the reply consumer and the HTTP app. Nothing runs until {@link OrderService.start}.
 */
export async function wireOrderService(options: OrderServiceOptions): Promise<OrderService> {
  const { config, logger, metrics } = options;
  const topics = options.topics ?? defaultOrderServiceTopics;
  const registry = metrics.registry;

  const pool = createPool(config.DATABASE_URL, logger, config.DATABASE_POOL_SIZE);
  try {
    await migrate(pool, [eventsMigrations, sagaMigrations, orderServiceMigrations], logger);
  } catch (error) {
    await pool.end();
    throw error;
  }
  const bus = createKafkaBus({
    clientId: 'order-service',
    brokers: config.KAFKA_BROKERS,
    logger,
    consumer: { sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS, heartbeatIntervalMs: config.KAFKA_HEARTBEAT_INTERVAL_MS },
  });
  try {
    await bus.ensureTopics([...new Set([...Object.values(Topics), ...Object.values(topics)])]);
  } catch (error) {
    await Promise.allSettled([bus.disconnect(), pool.end()]);
    throw error;
  }
  const relay = new OutboxRelay({ pool, bus, logger, metricsRegistry: registry });

  const breakers = new BreakerRegistry({ logger, metricsRegistry: registry, policy: { timeoutMs: config.USER_SERVICE_TIMEOUT_MS } });
  const http = new ServiceHttpClient({ discovery: options.discovery, breakers, strategy: config.LOAD_BALANCING, logger, timeoutMs: config.USER_SERVICE_TIMEOUT_MS });

  const products = new PgProductRepository();
  const orders = new PgOrderRepository();
  const retry: RetryPolicy = { maxAttempts: config.SAGA_STEP_MAX_ATTEMPTS, baseDelayMs: config.SAGA_RETRY_BASE_MS, maxDelayMs: config.SAGA_RETRY_MAX_MS };
  const saga = createPlaceOrderSaga({
    users: new HttpUserDirectory(http, config.USER_SERVICE_NAME),
    orders,
    inventory: new PgInventoryRepository(),
    topics,
    verifyUser: { retry, timeoutMs: config.VERIFY_USER_TIMEOUT_MS },
    localRetry: retry,
    ...(config.PAYMENT_REPLY_TIMEOUT_MS === 0 ? {} : { paymentReplyTimeoutMs: config.PAYMENT_REPLY_TIMEOUT_MS }),
    ...(config.SAGA_DEADLINE_MS === 0 ? {} : { deadlineMs: config.SAGA_DEADLINE_MS }),
  });
  const orchestrator = new SagaOrchestrator({
    pool,
    logger,
    definitions: [saga],
    replyTopic: topics.orderSagaReplies,
    defaultRetry: retry,
    metricsRegistry: registry,
    recoveryGraceMs: config.SAGA_RECOVERY_GRACE_MS,
    leaseMs: config.SAGA_LEASE_MS,
    stuckAfterMs: config.SAGA_STUCK_AFTER_MS,
  });
  const consumer = registerSagaReplyHandlers(
    new InboxConsumer({ bus, pool, groupId: options.consumerGroupId ?? 'order-service', topics: [topics.orderSagaReplies], logger, metricsRegistry: registry }),
    orchestrator,
  );

  const health = new Health()
    .addCheck('postgres', async () => {
      await pool.query('SELECT 1');
    })
    .addCheck('saga reply consumer', async () => {
      if (consumer.failure !== undefined) throw consumer.failure;
    });
  const app = createApp({
    logger,
    health,
    metrics,
    placeOrder: new PlaceOrderService({ pool, products, orders, orchestrator, saga, orderEventsTopic: topics.orderEvents }),
    queries: new OrderQueries({ pool, products, orders, orchestrator }),
    sagas: new SagaOperations(orchestrator),
    deadLetters: { pool, consumers: [consumer] },
  });

  return {
    app,
    health,
    pool,
    bus,
    relay,
    consumer,
    orchestrator,
    http,
    async start() {
      relay.start();
      const consumerJoined = consumer.startInBackground();
      // Recovery at start-up: whatever a previous run left unfinished, due and not leased runs now
      // (in the background: the HTTP server does not wait for it); the rest as leases expire.
      void orchestrator
        .resume({ graceMs: 0 })
        .then((resumed) => resumed > 0 && logger.info({ sagas: resumed }, 'resumed unfinished sagas'))
        .catch((error: unknown) => logger.error({ err: error }, 'saga recovery at start-up failed'));
      orchestrator.startRecovery(config.SAGA_RECOVERY_INTERVAL_MS);
      return { consumerJoined };
    },
    async stop() {
      await consumer.stop();
      await orchestrator.stop();
      await relay.stop();
      await http.close();
      await bus.disconnect();
      await pool.end();
    },
  };
}
