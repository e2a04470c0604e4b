import { createHttpApp, type Health, type Logger, type Metrics } from '@msr/service-defaults';
import type { Express } from 'express';
import type { UserUseCases } from './application/user-use-cases.js';
import { mapError } from './interface/http/map-error.js';
import { buildOpenApiDocument } from './interface/http/openapi.js';
import { usersRouter } from './interface/http/users.router.js';

/** What {@link createApp} needs; `main.ts` builds the real ones, tests may build their own. */
export interface AppDeps {
  logger: Logger;
  health: Health;
  metrics: Metrics;
  users: UserUseCases;
}

/**
 * Builds the user-service's HTTP app: the shared plumbing of `createHttpApp` (request ids, logs,
 * `/health`, `/metrics`, problem+json), `GET /openapi.json` and the users API. It never listens
 * (STYLE.md rule 4).
 */
export function createApp(deps: AppDeps): Express {
  const openApiDocument = buildOpenApiDocument();
  return createHttpApp({
    logger: deps.logger,
    health: deps.health,
    metrics: deps.metrics,
    mapError,
    routes: (app) => {
      app.get('/openapi.json', (_req, res) => {
        res.json(openApiDocument);
      });
      app.use(usersRouter(deps.users));
    },
  });
}
