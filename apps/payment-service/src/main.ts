import { RegistryClient, selfRegistration } from '@msr/discovery';
import { createKafkaBus, eventsMigrations, OutboxRelay, Topics } from '@msr/events';
import {
  closeServer,
  createLogger,
  createPool,
  Health,
  Lifecycle,
  listen,
  loadConfig,
  Metrics,
  migrate,
  runMain,
} from '@msr/service-defaults';
import { createApp } from './app.js';
import { configSchema } from './config.js';
import { Money } from './domain/money.value-object.js';
import { paymentServiceMigrations } from './infrastructure/payment-service.migrations.js';
import { pgRepositories } from './infrastructure/pg-repositories.js';
import { createPaymentConsumer } from './interface/messaging/payment-consumer.js';

/**
 * payment-service's composition root: reads the config, migrates its database (`payments`),
 * starts the outbox relay and the inbox consumer (joining in the background), serves HTTP and
 * the dead-letter endpoints, registers with the registry, and
 * shuts down in order on SIGTERM/SIGINT (stop being ready, deregister, stop taking work, finish
 * in-flight work, close clients and pools).
 */
runMain(async () => {
  const config = loadConfig(configSchema, process.env);
  const logger = createLogger({ service: 'payment-service', level: config.LOG_LEVEL });
  const metrics = new Metrics('payment-service');
  const pool = createPool(config.DATABASE_URL, logger, config.DATABASE_POOL_SIZE);
  await migrate(pool, [eventsMigrations, paymentServiceMigrations], logger);

  const bus = createKafkaBus({
    clientId: 'payment-service',
    brokers: config.KAFKA_BROKERS,
    logger,
    consumer: { sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS, heartbeatIntervalMs: config.KAFKA_HEARTBEAT_INTERVAL_MS },
  });
  await bus.ensureTopics(Object.values(Topics));
  const relay = new OutboxRelay({ pool, bus, logger, metricsRegistry: metrics.registry });
  relay.start();
  const consumer = createPaymentConsumer({
    bus,
    pool,
    logger,
    startingBalance: Money.ofCents(config.STARTING_BALANCE_CENTS),
    metricsRegistry: metrics.registry,
  });
  // Joins in the background: after a crash the join waits out the old member's session, and the
  // HTTP API has no reason to wait for it.
  void consumer.startInBackground().then(() => logger.info('payment consumer joined its group'));

  const health = new Health()
    .addCheck('postgres', async () => {
      await pool.query('SELECT 1');
    })
    .addCheck('payment consumer', async () => {
      if (consumer.failure !== undefined) throw consumer.failure;
    });
  const app = createApp({ logger, health, metrics, repositories: pgRepositories(pool), deadLetters: { pool, consumers: [consumer] } });
  const { server, port } = await listen(app, config.PORT, config.HOST);

  const registryClient = new RegistryClient({ registryUrl: config.REGISTRY_URL, token: config.REGISTRY_TOKEN, logger });
  const registration = await registryClient.register(selfRegistration('payment-service', config.ADVERTISE_HOST, port, config.REGISTRY_TTL_MS));

  new Lifecycle(logger, config.SHUTDOWN_TIMEOUT_MS)
    .onShutdown('readiness off', () => health.startDraining())
    .onShutdown('deregister', () => registration.deregister())
    .onShutdown('close http server', () => closeServer(server))
    .onShutdown('stop consumer', () => consumer.stop())
    .onShutdown('stop outbox relay', () => relay.stop())
    .onShutdown('disconnect kafka', () => bus.disconnect())
    .onShutdown('close postgres pool', () => pool.end())
    .exitOnSignals();
  logger.info({ port, starting_balance_cents: config.STARTING_BALANCE_CENTS }, 'payment-service started');
});
