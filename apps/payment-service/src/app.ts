import { deadLettersRouter, type InboxConsumer } from '@msr/events';
import { createHttpApp, type Health, type Logger, type Metrics } from '@msr/service-defaults';
import type { Express } from 'express';
import type pg from 'pg';
import type { PaymentRepositories } from './application/repositories.js';
import { accountsRouter } from './interface/http/accounts.router.js';
import { openApiHandler } from './interface/http/openapi.js';
import { mapPaymentError } from './interface/http/payment-problems.js';
import { paymentsRouter } from './interface/http/payments.router.js';

/** What {@link createApp} needs; tests pass real repositories on a test database, or fakes. */
export interface AppDeps {
  logger: Logger;
  health: Health;
  metrics: Metrics;
  /** Read-side repositories (bound to the pool). */
  repositories: PaymentRepositories;
  /** The consumers whose dead letters operators list and replay, and the pool holding them. */
  deadLetters: { pool: pg.Pool; consumers: readonly InboxConsumer[] };
}

/**
 * payment-service's HTTP API: `GET /accounts/{user_id}`, `GET /payments/{id}`,
 * `GET /payments?order_id=`, plus `/health` and `/metrics`, and for operators
 * `/admin/dead-letters` (list, replay; the gateway does not route it). Payments are authorized
 * and refunded over Kafka, not HTTP. Never listens (STYLE.md rule 4).
 */
export function createApp(deps: AppDeps): Express {
  return createHttpApp({
    logger: deps.logger,
    health: deps.health,
    metrics: deps.metrics,
    mapError: mapPaymentError,
    routes: (app) => {
      app.get('/openapi.json', openApiHandler());
      app.use(accountsRouter(deps.repositories.accounts));
      app.use(paymentsRouter(deps.repositories.payments));
      app.use(deadLettersRouter(deps.deadLetters));
    },
  });
}
