import type { Express } from 'express';
import { createHttpApp, ProblemError, type Health, type Logger, type Metrics } from '@msr/service-defaults';
import type { RegistryService } from './application/registry.service.js';
import type { WatchHub } from './application/watch-hub.js';
import { isRegistryDomainError } from './domain/registry.errors.js';
import { registryTokenGuard } from './interface/http/registry-token.guard.js';
import { seed001Router } from './interface/http/seed001.router.js';
import { servicesRouter } from './interface/http/services.router.js';
import { watchRouter } from './interface/http/watch.router.js';

/** What the registry's HTTP app needs. */
export interface RegistryAppDeps {
  logger: Logger;
  health: Health;
  metrics: Metrics;
  registry: RegistryService;
  hub: WatchHub;
  /** When set, writes need it (see {@link registryTokenGuard}). */
  token?: string;
  /** Keep-alive period of watch streams, in ms; default 15 000. */
  watchKeepAliveMs?: number;
}

/**
 * Turns the registry's domain errors into problems: the one switch, ending in an exhaustiveness
 * check so a new error code cannot be forgotten.
 */
export function mapError(error: unknown): ProblemError | undefined {
  if (!isRegistryDomainError(error)) return undefined;
  switch (error.code) {
    case 'INSTANCE.NOT_FOUND':
      return new ProblemError(404, error.code, error.message, { instance_id: error.instanceId });
    case 'SERVICE.NOT_FOUND':
      return new ProblemError(404, error.code, error.message, { service_name: error.serviceName });
    case 'SERVICE.INSTANCE_LIMIT':
      return new ProblemError(409, error.code, error.message, { service_name: error.serviceName, limit: error.limit });
    default: {
      const unhandled: never = error;
      throw new Error(`unmapped registry error ${String(unhandled)}`);
    }
  }
}

/**
 * Builds the registry's Express app (never listens): seed 000's and seed 001's APIs, watches,
 * plus `/health` and `/metrics`.
 */
export function createApp(deps: RegistryAppDeps): Express {
  const writeGuard = registryTokenGuard(deps.token);
  return createHttpApp({
    logger: deps.logger,
    health: deps.health,
    metrics: deps.metrics,
    routes: (app) => {
      app.use(watchRouter({ registry: deps.registry, hub: deps.hub, keepAliveMs: deps.watchKeepAliveMs ?? 15_000 }));
      app.use(servicesRouter({ registry: deps.registry, hub: deps.hub, writeGuard }));
      app.use(seed001Router({ registry: deps.registry, writeGuard }));
    },
    mapError,
    // Every instance heartbeats every third of its TTL: routine, not news.
    isRoutine: (req) => req.method === 'PUT' && /^\/v1\/services\/[^/]+\/heartbeat$/.test(req.url ?? ''),
  });
}
