import { closeServer, createLogger, Health, Lifecycle, listen, loadConfig, Metrics, runMain } from '@msr/service-defaults';
import { createApp } from './app.js';
import { configSchema } from './config.js';
import { createRegistryRuntime } from './registry-runtime.js';

runMain(async () => {
  const config = loadConfig(configSchema, process.env);
  const logger = createLogger({ service: 'registry', level: config.LOG_LEVEL });
  const metrics = new Metrics('registry');
  const health = new Health();
  const runtime = createRegistryRuntime({ config, logger, metricsRegistry: metrics.registry });
  runtime.start();
  const app = createApp({
    logger,
    health,
    metrics,
    registry: runtime.service,
    hub: runtime.hub,
    watchKeepAliveMs: config.WATCH_KEEPALIVE_MS,
    ...(config.REGISTRY_TOKEN === undefined ? {} : { token: config.REGISTRY_TOKEN }),
  });
  const { server, port } = await listen(app, config.PORT, config.HOST);
  new Lifecycle(logger, config.SHUTDOWN_TIMEOUT_MS)
    .onShutdown('readiness off', () => health.startDraining())
    .onShutdown('end watch streams', () => runtime.closeWatches())
    .onShutdown('close http server', () => closeServer(server))
    .onShutdown('stop health checks and sweeper', () => runtime.stop())
    .exitOnSignals();
  logger.info(
    { port, host: config.HOST, index: runtime.catalog.index, auth: config.REGISTRY_TOKEN === undefined ? 'open' : 'token for writes', warmup_ms: config.WARMUP_MS },
    'registry started',
  );
});
