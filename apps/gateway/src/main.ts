import { RegistryClient, selfRegistration, ServiceDiscovery } from '@msr/discovery';
import { closeServer, createLogger, Health, Lifecycle, listen, loadConfig, Metrics, runMain } from '@msr/service-defaults';
import { pino } from 'pino';
import { configSchema, jwtKeySource } from './config.js';
import { UndiciUpstreamClient } from './infrastructure/undici-upstream.client.js';
import { createGateway } from './wiring.js';

/** Composition root of the gateway: the single public entry of the system (SYSTEM.md "Gateway"). */
runMain(async () => {
  const config = loadConfig(configSchema, process.env);
  // One access-log line per request: written in batches (at least every second, and at exit),
  // not with one write system call each, which on the proxy's hot path costs as much as the proxying.
  const logDestination = pino.destination({ dest: 1, sync: false, minLength: 8 * 1024 });
  setInterval(() => logDestination.flush(), 1_000).unref();
  const logger = createLogger({ service: 'gateway', level: config.LOG_LEVEL, destination: logDestination });
  const metrics = new Metrics('gateway');
  const health = new Health();

  const registry = new RegistryClient({ registryUrl: config.REGISTRY_URL, token: config.REGISTRY_TOKEN, logger });
  const discovery = new ServiceDiscovery({ registry, logger, refreshIntervalMs: config.DISCOVERY_REFRESH_MS, metricsRegistry: metrics.registry });
  const upstream = new UndiciUpstreamClient({ bodyTimeoutMs: config.UPSTREAM_TIMEOUT_MS });
  const app = createGateway(config, { logger, health, metrics, discovery, upstream });

  const { server, port } = await listen(app, config.PORT, config.HOST);
  const registration = await registry.register(selfRegistration('gateway', config.ADVERTISE_HOST, port, config.REGISTRY_TTL_MS));

  new Lifecycle(logger, config.SHUTDOWN_TIMEOUT_MS)
    .onShutdown('readiness off', () => health.startDraining())
    .onShutdown('deregister', () => registration.deregister())
    .onShutdown('close http server', () => closeServer(server))
    .onShutdown('close upstream connections', () => upstream.close())
    .onShutdown('stop discovery', () => discovery.close())
    .exitOnSignals();
  logger.info(
    {
      port,
      routes: config.GATEWAY_ROUTES.map((route) => `${route.methods?.join(',') ?? '*'} ${route.prefix} -> ${route.service}${route.public === true ? ' (public)' : route.scope === undefined ? ' (token)' : ` (${route.scope})`}`),
      token_keys: jwtKeySource(config).kind,
      rate_limit_per_minute: config.RATE_LIMIT_PER_MINUTE,
    },
    'gateway started',
  );
});
