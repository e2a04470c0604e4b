import { RegistryClient, selfRegistration, type Registration } from '@msr/discovery';
import { createKafkaBus, eventsMigrations, OutboxRelay, Topics } from '@msr/events';
import { closeServer, createLogger, createPool, Health, Lifecycle, listen, loadConfig, Metrics, migrate, runMain } from '@msr/service-defaults';
import { createApp } from './app.js';
import { createUserUseCases } from './application/user-use-cases.js';
import { configSchema } from './config.js';
import { PgUserRepository } from './infrastructure/pg-user.repository.js';
import { userServiceMigrations } from './infrastructure/user-service.migrations.js';

/**
 * Composition root of the user-service (STYLE.md rule 4, eShop's `Program.cs`): reads the config,
 * migrates its own database, starts the outbox relay to Kafka, serves the users API, registers
 * with the registry, and on SIGTERM/SIGINT shuts down in order.
 */
runMain(async () => {
  const config = loadConfig(configSchema, process.env);
  const logger = createLogger({ service: 'user-service', level: config.LOG_LEVEL });
  const metrics = new Metrics('user-service');

  const pool = createPool(config.DATABASE_URL, logger);
  await migrate(pool, [eventsMigrations, userServiceMigrations], logger);

  const bus = createKafkaBus({ clientId: 'user-service', brokers: config.KAFKA_BROKERS, logger });
  await bus.ensureTopics(Object.values(Topics));
  const relay = new OutboxRelay({ pool, bus, logger, metricsRegistry: metrics.registry });
  relay.start();

  const health = new Health().addCheck('postgres', async () => {
    await pool.query('SELECT 1');
  });
  const app = createApp({ logger, health, metrics, users: createUserUseCases(new PgUserRepository(pool)) });
  const { server, port } = await listen(app, config.PORT, config.HOST);

  // Filled in once registered: shutdown may begin before that (a signal, a failed registration).
  const registered: { registration?: Registration } = {};
  const lifecycle = new Lifecycle(logger, config.SHUTDOWN_TIMEOUT_MS)
    .onShutdown('readiness off', () => health.startDraining())
    .onShutdown('deregister', () => registered.registration?.deregister())
    .onShutdown('close http server', () => closeServer(server))
    .onShutdown('stop outbox relay', () => relay.stop())
    .onShutdown('disconnect kafka', () => bus.disconnect())
    .onShutdown('close postgres pool', () => pool.end());
  lifecycle.exitOnSignals();

  const registry = new RegistryClient({ registryUrl: config.REGISTRY_URL, token: config.REGISTRY_TOKEN, logger });
  const registration = await registry
    .register(selfRegistration('user-service', config.ADVERTISE_HOST, port, config.REGISTRY_TTL_MS))
    .catch(async (error: unknown) => {
      // Unregistered, nobody can discover this instance: release what started, then fail start-up.
      await lifecycle.stop();
      throw new Error(`cannot register with the registry at ${config.REGISTRY_URL}: ${error instanceof Error ? error.message : String(error)}`);
    });
  registered.registration = registration;
  logger.info({ port, instance_id: registration.id }, 'user-service started');
});
