import type { RequestListener } from 'node:http';
import { notFoundHandler, problemHandler, requestIdOf, type Health, type Logger, type Metrics } from '@msr/service-defaults';
import cors from 'cors';
import express, { type RequestHandler } from 'express';
import { ApiDocsService } from './application/api-docs.service.js';
import type { ResilientForwarder } from './application/resilient-forwarder.js';
import type { TokenVerifier } from './application/token-verifier.port.js';
import type { GatewayRoute } from './domain/route-table.js';
import { accessLog } from './interface/http/access-log.js';
import { identify } from './interface/http/authentication.js';
import { docsRouter } from './interface/http/docs.router.js';
import { mapError } from './interface/http/map-error.js';
import { proxyHandler } from './interface/http/proxy-handler.js';
import { rateLimited, RateLimiter } from './interface/http/rate-limit.js';
import { apiSecurityHeaderOptions, securityHeaders, type ConnectMiddleware } from './interface/http/security-headers.js';

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
 * Echoes the request id (taken from `X-Request-Id` or made) on the answer. Unlike the services'
 * `requestId`, no log context: the gateway names the request id in its log lines itself, and
 * keeping AsyncLocalStorage off spares every promise of the proxy's hot path its hooks.
 */
const echoRequestId: RequestHandler = (req, res, next) => {
  res.setHeader('x-request-id', requestIdOf(req));
  next();
};

/**
 * Builds the gateway's HTTP handler, the middleware chain of seed 002's gateway made production
 * grade. Requests under a routing-table prefix take the proxy's hot path ({@link proxyHandler}:
 * request id, security headers for API answers, CORS, authentication, rate limiting,
 * authorization, body limit, forwarding, access log and metrics, all outside Express).
 * Everything else goes to an Express app with the same request id, access log, HTTP metrics,
 * CORS and helmet's default security headers (made for documents, as `/docs` is one):
 * `/health` and `/metrics`, then authentication and rate limiting per client (one limiter for
 * both paths), `/docs`, 404 and problem+json errors. Request bodies are never parsed: they
 * stream through to the upstream. Never listens (STYLE.md rule 4).
 */
export function createApp(deps: GatewayDeps): RequestListener {
  const documentHeaders = securityHeaders();
  const corsPolicy = cors({
    origin: deps.corsOrigins.includes('*') ? '*' : [...deps.corsOrigins],
    exposedHeaders,
    allowedHeaders: ['authorization', 'content-type', 'x-request-id', 'idempotency-key'],
    maxAge: 600,
  }) as ConnectMiddleware;
  const rateLimiter = new RateLimiter(deps.rateLimit);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(echoRequestId);
  app.use(accessLog(deps.logger));
  app.use(deps.metrics.httpMiddleware);
  app.use(documentHeaders);
  app.use(corsPolicy);
  app.get('/health', deps.health.handler);
  app.get('/health/live', deps.health.liveHandler);
  app.get('/metrics', deps.metrics.handler);
  app.use(identify(deps.tokens), rateLimited(rateLimiter));
  app.use(docsRouter(new ApiDocsService(deps.forwarder, deps.routes)));
  app.use(notFoundHandler);
  app.use(problemHandler(deps.logger, mapError));

  const proxied = proxyHandler({
    routes: deps.routes,
    forwarder: deps.forwarder,
    tokens: deps.tokens,
    rateLimiter,
    logger: deps.logger,
    metrics: deps.metrics,
    securityHeaders: securityHeaders(apiSecurityHeaderOptions),
    cors: corsPolicy,
    maxBodyBytes: deps.maxBodyBytes,
  });
  return (req, res) => {
    if (!proxied(req, res)) app(req, res);
  };
}
