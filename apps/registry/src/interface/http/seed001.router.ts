import type { RequestHandler } from 'express';
import { Router } from 'express';
import { validate } from '@msr/service-defaults';
import { z } from 'zod';
import type { RegistryService } from '../../application/registry.service.js';
import { ServiceNotFoundError } from '../../domain/registry.errors.js';
import { seed001ServiceStatus, toSeed001Service } from './instance.presenter.js';
import { serviceName } from './registration.schema.js';

const seed001RegistrationSchema = z.object({
  name: serviceName,
  url: z
    .string()
    .max(2048)
    .refine((value) => /^https?:\/\/[^\s/?#]+(\/[^\s]*)?$/.test(value) && URL.canParse(value), 'must be an http(s) URL such as http://localhost:8081'),
});

const nameParams = z.object({ name: z.string().min(1).max(128) });

/** What {@link seed001Router} needs. */
export interface Seed001RouterDeps {
  registry: RegistryService;
  /** Runs before every write (the registry token guard). */
  writeGuard: RequestHandler;
}

/**
 * Seed 001's registry API beside seed 000's, over the same catalog:
 * - `POST /services` `{name, url}` → 201 with the service in seed 001's shape
 *   (`{id, name, url, status, last_ping}`); the registry then checks `<url>/health` every 30 s;
 * - `GET /services` → every instance in that shape;
 * - `GET /services/{name}/health` → `{name, status, last_ping, instances}` with status
 *   `healthy`, `unhealthy` or `unknown` (no check or heartbeat yet); 404 for an unknown service.
 */
export function seed001Router({ registry, writeGuard }: Seed001RouterDeps): Router {
  const router = Router();

  router.post('/services', writeGuard, (req, res) => {
    const body = validate(seed001RegistrationSchema, req.body, 'body');
    const instance = registry.registerByUrl(body.name, new URL(body.url));
    res.status(201).json(toSeed001Service(instance));
  });

  router.get('/services', (_req, res) => {
    const everything = [...registry.catalogByService(false).values()].flat();
    res.json(everything.map(toSeed001Service));
  });

  router.get('/services/:name/health', (req, res) => {
    const { name } = validate(nameParams, req.params, 'params');
    const instances = registry.discover(name, false).map(toSeed001Service);
    if (instances.length === 0) throw new ServiceNotFoundError(name);
    const pings = instances.map((instance) => instance.last_ping).filter((ping): ping is string => ping !== null).sort();
    res.json({ name, status: seed001ServiceStatus(instances), last_ping: pings.at(-1) ?? null, instances });
  });

  return router;
}
