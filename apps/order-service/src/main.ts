import { RegistryClient, selfRegistration, ServiceDiscovery, type Registration } from '@msr/discovery';
import { closeServer, createLogger, Lifecycle, listen, loadConfig, Metrics, runMain } from '@msr/service-defaults';
import { configSchema } from './config.js';
import { wireOrderService } from './wiring.js';

/**
 * Composition root of the order-service (STYLE.md rule 4): reads the config, wires the service
 * (migrations, Kafka, the PlaceOrder saga and its orchestrator), starts the outbox relay, saga
 * recovery and the saga reply consumer (which joins its group in the background: after a crash
 * that takes up to the Kafka session timeout, and nothing else waits for it), serves the orders
 * API, registers with the registry, and on SIGTERM/SIGINT shuts down in order.
 */
runMain(async () => {
  const config = loadConfig(configSchema, process.env);
  const logger = createLogger({ service: 'order-service', level: config.LOG_LEVEL });
  const metrics = new Metrics('order-service');

  const registry = new RegistryClient({ registryUrl: config.REGISTRY_URL, token: config.REGISTRY_TOKEN, logger });
  const discovery = new ServiceDiscovery({ registry, logger, metricsRegistry: metrics.registry });
  const service = await wireOrderService({ config, logger, metrics, discovery });
  const { consumerJoined } = await service.start();
  const { server, port } = await listen(service.app, config.PORT, config.HOST);
  void consumerJoined.then(() => logger.info('saga reply consumer joined its group'));

  // Filled in once registered: shutdown may begin before that (a signal, a failed registration).
  const registered: { registration?: Registration } = {};
  const lifecycle = new Lifecycle(logger, config.SHUTDOWN_TIMEOUT_MS)
    .onShutdown('readiness off', () => service.health.startDraining())
    .onShutdown('deregister', () => registered.registration?.deregister())
    .onShutdown('close http server', () => closeServer(server))
    .onShutdown('stop saga reply consumer', () => service.consumer.stop())
    .onShutdown('finish sagas in flight', () => service.orchestrator.stop())
    .onShutdown('stop outbox relay', () => service.relay.stop())
    .onShutdown('close service clients', async () => {
      discovery.close();
      await service.http.close();
    })
    .onShutdown('disconnect kafka', () => service.bus.disconnect())
    .onShutdown('close postgres pool', () => service.pool.end());
  lifecycle.exitOnSignals();

  const registration = await registry
    .register(selfRegistration('order-service', config.ADVERTISE_HOST, port, config.REGISTRY_TTL_MS))
    .catch(async (error: unknown) => {
      // Unregistered, nobody can discover this instance: release what started, then fail start-up.
      await lifecycle.stop();
      throw new Error(`cannot register with the registry at ${config.REGISTRY_URL}: ${error instanceof Error ? error.message : String(error)}`);
    });
  registered.registration = registration;
  logger.info({ port, instance_id: registration.id }, 'order-service started');
});
