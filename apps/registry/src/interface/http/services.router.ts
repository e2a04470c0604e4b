import type { RequestHandler } from 'express';
import { Router } from 'express';
import { validate } from '@msr/service-defaults';
import { z } from 'zod';
import type { RegisterInstanceCommand, RegistryService } from '../../application/registry.service.js';
import type { WatchHub } from '../../application/watch-hub.js';
import { toInstanceResponse, toServiceInfoResponse } from './instance.presenter.js';
import { catalogQuerySchema, defaultWaitMs, discoverQuerySchema, filterOf, filterQuerySchema, healthyOnly } from './query.schema.js';
import { checkDefaults, registrationSchema, type RegistrationBody } from './registration.schema.js';

const idParams = z.object({ id: z.string().min(1).max(200) });
const nameParams = z.object({ name: z.string().min(1).max(128) });

/** What {@link servicesRouter} needs. */
export interface ServicesRouterDeps {
  registry: RegistryService;
  hub: WatchHub;
  /** Runs before every write (the registry token guard). */
  writeGuard: RequestHandler;
}

/**
 * The registry's HTTP API, seed 000's wire contract plus leases, filters, blocking queries and
 * service info (seed 003):
 * - `POST /v1/services` `{service, health_check?, ttl?}` → 201 `{"status":"registered","id"}`;
 * - `PUT /v1/services/{id}/heartbeat` → 200 `{"status":"renewed"}`, 404 when unknown;
 * - `DELETE /v1/services/{id}` → 200 `{"status":"deregistered"}`, 404 when unknown;
 * - `GET /v1/services/{name}/discover[?healthy=true][&tag=][&meta=k:v][&index=N&wait=30s]` →
 *   array of instances, `X-Registry-Index` with the catalog index the answer reflects; an
 *   unknown service answers `[]` (nothing registered is an answer, not an error);
 * - `GET /v1/services[?tag=&meta=]` → every service with instance counts and health totals;
 * - `GET /v1/services/{name}[?tag=&meta=]` → one service's info, 404 when it has no instance;
 * - `GET /v1/catalog[?healthy=true&tag=&meta=]` → every service's instances, by name.
 *
 * While the registry warms up after a start, read answers carry `X-Registry-Warming: true`.
 */
export function servicesRouter({ registry, hub, writeGuard }: ServicesRouterDeps): Router {
  const router = Router();
  const stamp: RequestHandler = (_req, res, next) => {
    if (registry.warming) res.setHeader('x-registry-warming', 'true');
    next();
  };

  router.post('/v1/services', writeGuard, (req, res) => {
    const body = validate(registrationSchema, req.body, 'body');
    const instance = registry.register(toCommand(body));
    res.status(201).json({ status: 'registered', id: instance.id });
  });

  router.get('/v1/services', stamp, (req, res) => {
    const query = validate(filterQuerySchema, req.query, 'query');
    res.setHeader('x-registry-index', String(registry.index));
    res.json(registry.summaries(filterOf(query)));
  });

  router.get('/v1/services/:name', stamp, (req, res) => {
    const { name } = validate(nameParams, req.params, 'params');
    const query = validate(filterQuerySchema, req.query, 'query');
    const info = registry.serviceInfo(name, filterOf(query));
    res.setHeader('x-registry-index', String(info.index));
    res.json(toServiceInfoResponse(info));
  });

  router.put('/v1/services/:id/heartbeat', writeGuard, (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    const instance = registry.heartbeat(id);
    res.json({ status: 'renewed', id: instance.id, last_seen: new Date(instance.lastSeenAt).toISOString() });
  });

  router.delete('/v1/services/:id', writeGuard, (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    registry.deregister(id);
    res.json({ status: 'deregistered' });
  });

  router.get('/v1/services/:name/discover', stamp, async (req, res) => {
    const { name } = validate(nameParams, req.params, 'params');
    const query = validate(discoverQuerySchema, req.query, 'query');
    if (query.index !== undefined) {
      const clientGone = new AbortController();
      res.once('close', () => clientGone.abort());
      const outcome = await hub.waitForChange(name, query.index, query.wait ?? defaultWaitMs, clientGone.signal);
      if (outcome === 'aborted') return;
      // The warm-up may have ended while the query waited.
      if (!registry.warming) res.removeHeader('x-registry-warming');
    }
    res.setHeader('x-registry-index', String(registry.index));
    res.json(registry.discover(name, healthyOnly(query.healthy), filterOf(query)).map(toInstanceResponse));
  });

  router.get('/v1/catalog', stamp, (req, res) => {
    const query = validate(catalogQuerySchema, req.query, 'query');
    const byService = registry.catalogByService(healthyOnly(query.healthy), filterOf(query));
    res.setHeader('x-registry-index', String(registry.index));
    res.json(Object.fromEntries([...byService].map(([name, instances]) => [name, instances.map(toInstanceResponse)])));
  });

  return router;
}

function toCommand(body: RegistrationBody): RegisterInstanceCommand {
  const { service, health_check: check, ttl } = body;
  return {
    ...(service.id ? { id: service.id } : {}),
    name: service.name,
    address: service.address,
    port: service.port,
    tags: service.tags ?? [],
    meta: service.meta ?? {},
    ...(check
      ? {
          check: {
            ...(check.id ? { id: check.id } : {}),
            ...(check.name ? { name: check.name } : {}),
            ...(check.http ? { http: check.http } : {}),
            ...(check.tcp ? { tcp: check.tcp } : {}),
            intervalMs: check.interval ?? checkDefaults.intervalMs,
            timeoutMs: check.timeout ?? checkDefaults.timeoutMs,
            ...(check.failures_before_critical === undefined && check.successes_before_passing === undefined
              ? {}
              : {
                  thresholds: {
                    ...(check.failures_before_critical === undefined ? {} : { failuresBeforeCritical: check.failures_before_critical }),
                    ...(check.successes_before_passing === undefined ? {} : { successesBeforePassing: check.successes_before_passing }),
                  },
                }),
            ...(check.deregister_critical_service_after === undefined ? {} : { deregisterCriticalAfterMs: check.deregister_critical_service_after }),
          },
        }
      : {}),
    ...(ttl ? { ttlMs: ttl } : {}),
  };
}
