import { notFoundHandler, problemHandler, requestId, type Health, type Logger, type Metrics } from '@msr/service-defaults';
import cors from 'cors';
import express, { type Express } from 'express';
import { ApiDocsService } from './application/api-docs.service.js';
import type { ResilientForwarder } from './application/resilient-forwarder.js';
import type { TokenVerifier } from './application/token-verifier.port.js';
import type { GatewayRoute } from './domain/route-table.js';
import { accessLog } from './interface/http/access-log.js';
import { identify } from './interface/http/authentication.js';
import { docsRouter } from './interface/http/docs.router.js';
import { mapError } from './interface/http/map-error.js';
import { proxyRouter } from './interface/http/proxy.router.js';
import { rateLimiter } from './interface/http/rate-limit.js';
import { securityHeaders } from './interface/http/security-headers.js';

/** Everything the gateway's HTTP app needs; `wiring.ts` builds the real ones. */
export interface GatewayDeps {
  logger: Logger;
  health: Health;
  metrics: Metrics;
  /** The routing table, e.g. `config.GATEWAY_ROUTES`. */
  routes: readonly GatewayRoute[];
  /** Forwards to upstream services through their bulkheads and breakers. */
  forwarder: ResilientForwarder;
  /** Verifies bearer tokens. */
  tokens: TokenVerifier;
  /** Requests per client per window. */
  rateLimit: { limit: number; windowMs: number };
  /** Largest request body forwarded, in bytes. */
  maxBodyBytes: number;
  /** Origins browsers may call from; `*` for any. */
  corsOrigins: readonly string[];
}

/** Headers a browser script may read from the gateway's answers. */
const exposedHeaders = ['x-request-id', 'location', 'retry-after', 'ratelimit', 'ratelimit-policy', 'www-authenticate'];

/**
 * Builds the gateway's Express app, the middleware chain of seed 002's gateway made production
 * grade: request id, access log, HTTP metrics, security headers (helmet), CORS, `/health` and
 * `/metrics`; then, for everything else, authentication and rate limiting per client; then
 * `/docs` and the routing table (authorization, body limit, forwarding); then 404 and
 * problem+json errors. Request bodies are never parsed: they stream through to the upstream.
 * Never listens (STYLE.md rule 4).
 */
export function createApp(deps: GatewayDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestId);
  app.use(accessLog(deps.logger));
  app.use(deps.metrics.httpMiddleware);
  app.use(securityHeaders());
  app.use(
    cors({
      origin: deps.corsOrigins.includes('*') ? '*' : [...deps.corsOrigins],
      exposedHeaders,
      allowedHeaders: ['authorization', 'content-type', 'x-request-id', 'idempotency-key'],
      maxAge: 600,
    }),
  );
  app.get('/health', deps.health.handler);
  app.get('/health/live', deps.health.liveHandler);
  app.get('/metrics', deps.metrics.handler);
  app.use(identify(deps.tokens), rateLimiter({ ...deps.rateLimit, logger: deps.logger }));
  app.use(docsRouter(new ApiDocsService(deps.forwarder, deps.routes)));
  app.use(proxyRouter({ routes: deps.routes, forwarder: deps.forwarder, logger: deps.logger, maxBodyBytes: deps.maxBodyBytes }));
  app.use(notFoundHandler);
  app.use(problemHandler(deps.logger, mapError));
  return app;
}
