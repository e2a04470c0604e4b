import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { CatalogSweeper } from './application/catalog.sweeper.js';
import { HealthCheckScheduler } from './application/health-check.scheduler.js';
import type { HealthProbe } from './application/health-probe.port.js';
import { RegistryService } from './application/registry.service.js';
import { WatchHub } from './application/watch-hub.js';
import { Catalog } from './domain/catalog.js';
import { systemClock, type Clock } from './domain/clock.js';
import { NetworkHealthProbe } from './infrastructure/network-health.probe.js';
import { registerRegistryMetrics } from './infrastructure/registry.metrics.js';
import type { RegistryConfig } from './config.js';

/** The configuration the runtime reads. */
export type RegistryRuntimeConfig = Pick<
  RegistryConfig,
  | 'SWEEP_INTERVAL_MS'
  | 'DEREGISTER_CRITICAL_AFTER_MS'
  | 'DEFAULT_TTL_MS'
  | 'HEALTH_FAILURES_BEFORE_CRITICAL'
  | 'HEALTH_SUCCESSES_BEFORE_PASSING'
  | 'MAX_INSTANCES_PER_SERVICE'
  | 'SELF_PRESERVATION_THRESHOLD'
  | 'SELF_PRESERVATION_MIN_INSTANCES'
  | 'WARMUP_MS'
  | 'WATCH_BUFFER_SIZE'
  | 'WATCH_HISTORY_SIZE'
>;

/** What {@link createRegistryRuntime} needs; `clock` and `probe` default to the real ones. */
export interface RegistryRuntimeOptions {
  config: RegistryRuntimeConfig;
  logger: Logger;
  metricsRegistry?: Registry;
  clock?: Clock;
  probe?: HealthProbe;
}

/** The registry's moving parts, wired: the catalog, its use cases, the watch hub, and the loops that drive them. */
export interface RegistryRuntime {
  catalog: Catalog;
  service: RegistryService;
  hub: WatchHub;
  sweeper: CatalogSweeper;
  /** Starts active health checks, the lease/critical sweeper and the warm-up timer. */
  start(): void;
  /** Ends every watch stream (they never end on their own, so a server could not close before). */
  closeWatches(): void;
  /** Stops the loops and closes the probe's connections. */
  stop(): Promise<void>;
}

/**
 * Builds the registry from its parts (used by main.ts and by tests, which start it on port 0):
 * an in-memory {@link Catalog} whose index starts at the clock's time (so indexes grow across
 * restarts), a {@link HealthCheckScheduler} over the network probe, a {@link CatalogSweeper},
 * the {@link RegistryService}, the {@link WatchHub} and, given a metrics registry, the
 * registry's metrics.
 */
export function createRegistryRuntime(options: RegistryRuntimeOptions): RegistryRuntime {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const catalog = new Catalog({
    clock,
    initialIndex: clock.now(),
    deregisterCriticalAfterMs: config.DEREGISTER_CRITICAL_AFTER_MS,
    defaultTtlMs: config.DEFAULT_TTL_MS,
    maxInstancesPerService: config.MAX_INSTANCES_PER_SERVICE,
    thresholds: {
      failuresBeforeCritical: config.HEALTH_FAILURES_BEFORE_CRITICAL,
      successesBeforePassing: config.HEALTH_SUCCESSES_BEFORE_PASSING,
    },
    selfPreservation: { threshold: config.SELF_PRESERVATION_THRESHOLD, minInstances: config.SELF_PRESERVATION_MIN_INSTANCES },
  });
  const networkProbe = new NetworkHealthProbe();
  const scheduler = new HealthCheckScheduler(catalog, options.probe ?? networkProbe, logger);
  const sweeper = new CatalogSweeper(catalog, config.SWEEP_INTERVAL_MS, logger);
  const service = new RegistryService({ catalog, logger, clock, warmupMs: config.WARMUP_MS });
  const hub = new WatchHub({
    catalog,
    logger,
    bufferSize: config.WATCH_BUFFER_SIZE,
    historySize: config.WATCH_HISTORY_SIZE,
    isWarming: () => service.warming,
  });
  if (options.metricsRegistry !== undefined) registerRegistryMetrics(options.metricsRegistry, catalog, hub);
  let warmupTimer: NodeJS.Timeout | undefined;
  return {
    catalog,
    service,
    hub,
    sweeper,
    start() {
      scheduler.start();
      sweeper.start();
      if (service.warming) {
        warmupTimer = setTimeout(() => {
          logger.info({ instances: catalog.all().length }, 'warm-up over: answers are complete from now on');
          hub.broadcastSnapshot();
        }, service.warmupRemainingMs);
        warmupTimer.unref();
      }
    },
    closeWatches() {
      hub.close();
    },
    async stop() {
      clearTimeout(warmupTimer);
      sweeper.stop();
      hub.close();
      await scheduler.stop();
      await networkProbe.close();
    },
  };
}
