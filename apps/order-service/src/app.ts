import { deadLettersRouter, type InboxConsumer } from '@msr/events';
import { createHttpApp, type Health, type Logger, type Metrics } from '@msr/service-defaults';
import type { Express } from 'express';
import type pg from 'pg';
import type { PlaceOrderService } from './application/place-order/place-order.service.js';
import type { OrderQueries } from './application/queries/order.queries.js';
import type { SagaOperations } from './application/sagas/saga-operations.js';
import { mapError } from './interface/http/map-error.js';
import { openApiHandler } from './interface/http/openapi.js';
import { ordersRouter } from './interface/http/orders.router.js';
import { sagasRouter } from './interface/http/sagas.router.js';

/** What {@link createApp} needs; `wiring.ts` builds the real ones. */
export interface AppDeps {
  logger: Logger;
  health: Health;
  metrics: Metrics;
  placeOrder: PlaceOrderService;
  queries: OrderQueries;
  sagas: SagaOperations;
  /** The consumers whose dead letters operators list and replay, and the pool holding them. */
  deadLetters: { pool: pg.Pool; consumers: readonly InboxConsumer[] };
}

/**
 * Builds the order-service's HTTP app: the shared plumbing of `createHttpApp` (request ids, logs,
 * `/health`, `/metrics`, problem+json), the orders API, and the operators' endpoints (`/sagas`,
 * `/admin/dead-letters`; the gateway routes neither). It never listens (STYLE.md rule 4).
 */
export function createApp(deps: AppDeps): Express {
  return createHttpApp({
    logger: deps.logger,
    health: deps.health,
    metrics: deps.metrics,
    mapError,
    routes: (app) => {
      app.get('/openapi.json', openApiHandler());
      app.use(ordersRouter({ placeOrder: deps.placeOrder, queries: deps.queries }));
      app.use(sagasRouter(deps.sagas));
      app.use(deadLettersRouter(deps.deadLetters));
    },
  });
}
