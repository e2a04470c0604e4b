import type { IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Readable } from 'node:stream';
import { ProblemError, problemOf, requestIdOf, writeProblem, type Logger, type Metrics } from '@msr/service-defaults';
import { Cancellation } from '../../application/cancellation.js';
import type { GuardedForwardResult, ResilientForwarder } from '../../application/resilient-forwarder.js';
import type { TokenVerifier } from '../../application/token-verifier.port.js';
import { ClientGoneError, GatewayError } from '../../domain/gateway.errors.js';
import { allowedMethods, entryFor, groupByPrefix, publicLocation, upstreamPath, type GatewayRoute, type PrefixRoutes } from '../../domain/route-table.js';
import { logAccess } from './access-log.js';
import { authorize, identifyCaller } from './authentication.js';
import { assertDeclaredLengthWithin, bodyTooLarge, limitStreamedBody } from './body-limit.js';
import { clientResponseHeaders, hasBody, upstreamRequestHeaders } from './forwarding-headers.js';
import { mapError } from './map-error.js';
import { RateLimiter } from './rate-limit.js';
import { PendingHeaders, recordHeaders, setHeaders, type ConnectMiddleware, type HeaderList, type HeaderSink } from './security-headers.js';

/** What {@link proxyHandler} needs. */
export interface ProxyHandlerDeps {
  routes: readonly GatewayRoute[];
  forwarder: ResilientForwarder;
  tokens: TokenVerifier;
  rateLimiter: RateLimiter;
  logger: Logger;
  metrics: Metrics;
  /** helmet's headers for API answers (`apiSecurityHeaderOptions`), set on every answer. */
  securityHeaders: ConnectMiddleware;
  /** The CORS middleware, run for browser requests (those with `Origin`) and preflights. */
  cors: ConnectMiddleware;
  /** Largest request body forwarded, in bytes (413 beyond). */
  maxBodyBytes: number;
}

/** One proxied request on its way: what the access log, the metrics and the clean-up need. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  routes: PrefixRoutes;
  requestId: string;
  startedAt: number;
  /** Aborted when the client goes away (or its body grew too large): the upstream call is aborted with it. */
  cancel: Cancellation;
  route?: GatewayRoute;
  answer?: GuardedForwardResult;
  /** A chunked request body passed the limit. */
  tooLarge: boolean;
  /**
   * Where the answer's own headers go (request id, rate limit, challenges): kept in a list for
   * the usual API call, so they go out with the fixed and the upstream's headers in one
   * `writeHead`; the response itself for a browser's request, whose CORS headers are set as it goes.
   */
  headers: HeaderSink;
}

/** A prefix's routes with the prefix in lower case, computed once for matching. */
interface MatchableRoutes extends PrefixRoutes {
  lowerPrefix: string;
}

/** The prefix of `table` that `url` lies under, case-insensitively as Express matches: `/api/orders`, `/api/orders/…`, never `/api/ordersx`. */
function routesFor(table: readonly MatchableRoutes[], url: string): MatchableRoutes | undefined {
  const lower = url.toLowerCase();
  return table.find(({ lowerPrefix }) => {
    if (!lower.startsWith(lowerPrefix)) return false;
    const next = lower.charAt(lowerPrefix.length);
    return next === '' || next === '/' || next === '?';
  });
}

/** Appends the names and values of `list` to `head`, less the headers `set` has (names in lower case in both). */
function appendUnlessSet(head: OutgoingHttpHeader[], list: HeaderList, set: Record<string, unknown>): void {
  for (let index = 0; index < list.length; index += 2) {
    const name = list[index] as string;
    if (set[name] === undefined) head.push(name, list[index + 1] as OutgoingHttpHeader);
  }
}

/**
 * The gateway's proxied routes as a plain Node request handler, the hot path of every API call
 * (seed 002's gateway middleware chain; SYSTEM.md "Gateway"). For a path under a routing-table
 * prefix it runs, in order: request id, security headers (helmet), CORS, authentication and rate
 * limiting per client, the entry serving the method (405 with `Allow` otherwise), the entry's
 * authorization (401/403), the body limit (413), then forwards through the service's bulkhead and
 * breakers and streams the answer back; every refusal and failure is answered as
 * problem+json, and every exchange ends with an access-log line and a latency observation.
 *
 * It runs outside Express on purpose: Express's router and middleware chain cost as much CPU as
 * the proxying itself (`npm run bench:gateway`). The gateway's own routes (`/health`, `/metrics`,
 * `/docs`, 404) stay in Express, which is what a request no prefix matches is handed to.
 *
 * @returns a handler answering `true` when it took the request, `false` when no prefix matched.
 */
export function proxyHandler(deps: ProxyHandlerDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const table: MatchableRoutes[] = groupByPrefix(deps.routes).map((routes) => ({ ...routes, lowerPrefix: routes.prefix.toLowerCase() }));
  // What helmet and CORS say to a request without `Origin` never changes: recorded once, as a list for `writeHead`.
  const helmetHeaders = recordHeaders(deps.securityHeaders, 'GET');
  const corsWithoutOrigin = recordHeaders(deps.cors, 'GET');
  const fixedHeaders: HeaderList | undefined = helmetHeaders === undefined || corsWithoutOrigin === undefined ? undefined : [...helmetHeaders, ...corsWithoutOrigin];

  function fail(exchange: Exchange, error: unknown): void {
    const { res, req } = exchange;
    if (error instanceof ClientGoneError) {
      // A body over the limit cut the upload short; otherwise nobody is left to answer.
      if (!exchange.tooLarge) return;
      error = bodyTooLarge(deps.maxBodyBytes);
    }
    const problem = problemOf(error, mapError);
    if (problem.status >= 500) deps.logger.error({ err: error, request_id: exchange.requestId }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (exchange.headers instanceof PendingHeaders) {
      // The headers kept for `writeHead` (see `Exchange.headers`) go on the problem answer.
      if (fixedHeaders !== undefined) setHeaders(res, fixedHeaders);
      setHeaders(res, exchange.headers.list);
    }
    if (error instanceof GatewayError && error.code === 'GATEWAY.CIRCUIT_OPEN') {
      res.setHeader('retry-after', String(Math.ceil(deps.forwarder.serviceBreaker(error.service).policy.resetTimeoutMs / 1_000)));
    }
    writeProblem(res, problem, req.url, exchange.requestId);
  }

  function finish(exchange: Exchange): void {
    const { req, res, answer } = exchange;
    if (!res.writableFinished) exchange.cancel.abort();
    if (answer !== undefined) {
      answer.release();
      if (!answer.response.body.readableEnded) answer.response.body.destroy();
    }
    const latencyMs = performance.now() - exchange.startedAt;
    const method = req.method ?? 'GET';
    deps.metrics.observeHttpRequest(method, exchange.routes.prefix, res.statusCode, latencyMs);
    logAccess(deps.logger, {
      method,
      route: exchange.routes.prefix,
      path: req.url ?? '/',
      status: res.statusCode,
      latencyMs,
      service: exchange.route?.service,
      upstream: answer?.instance.id,
      requestId: exchange.requestId,
      aborted: !res.writableFinished,
    });
  }

  /** The request body to forward: the request itself when its length is declared (and checked), else a counting stream. */
  function bodyToForward(exchange: Exchange): Readable | undefined {
    const { req } = exchange;
    if (!hasBody(req.headers)) return undefined;
    // A declared length was checked before and the HTTP parser never reads past it.
    if (req.headers['content-length'] !== undefined) return req;
    return limitStreamedBody(req, deps.maxBodyBytes, () => {
      exchange.tooLarge = true;
      exchange.cancel.abort();
    });
  }

  async function proxy(exchange: Exchange): Promise<void> {
    const { req, routes } = exchange;
    const method = req.method ?? 'GET';
    const identified = identifyCaller(req.headers.authorization, deps.tokens);
    const caller = identified instanceof Promise ? await identified : identified;
    await deps.rateLimiter.take(RateLimiter.clientKey(caller, req.socket.remoteAddress), exchange.headers);

    const route = entryFor(routes, method);
    if (route === undefined) {
      const allow = allowedMethods(routes).join(', ');
      exchange.headers.setHeader('allow', allow);
      throw new ProblemError(405, 'ROUTE.METHOD_NOT_ALLOWED', `${method} is not allowed on ${routes.prefix} (allowed: ${allow})`);
    }
    exchange.route = route;
    authorize(route, caller, exchange.headers);
    assertDeclaredLengthWithin(req.headers, deps.maxBodyBytes);

    const body = bodyToForward(exchange);
    const secure = (req.socket as TLSSocket).encrypted === true;
    const answer = await deps.forwarder.forward(
      {
        service: route.service,
        method,
        path: upstreamPath(route, req.url ?? '/'),
        headers: upstreamRequestHeaders(req.headers, { ip: req.socket.remoteAddress, proto: secure ? 'https' : 'http', host: req.headers.host }, body !== undefined),
        body,
        cancel: exchange.cancel,
      },
    );
    exchange.answer = answer;
    if (exchange.cancel.aborted) {
      // The client left just as the answer came: nobody to send it to (the close handler let go of it).
      answer.release();
      answer.response.body.destroy();
      return;
    }
    sendUpstreamAnswer(exchange, answer);
  }

  /**
   * Streams the upstream's answer to the client. A plain `pipe` rather than `stream.pipeline`,
   * which allocates an AbortController and a DOMException per call; the exchange's `close`
   * handler gives the bulkhead slot back and stops reading the upstream when the client goes away.
   */
  function sendUpstreamAnswer(exchange: Exchange, forwarded: GuardedForwardResult): void {
    const { res, route, cancel } = exchange;
    const { response, instance } = forwarded;
    const headers = clientResponseHeaders(response.headers);
    // The fixed headers, the exchange's own and the upstream's, written at once (see `Exchange.headers`);
    // a header the upstream sets itself wins, as it would have with `setHeader`.
    const head: OutgoingHttpHeader[] = [];
    if (exchange.headers instanceof PendingHeaders) {
      if (fixedHeaders !== undefined) appendUnlessSet(head, fixedHeaders, headers);
      appendUnlessSet(head, exchange.headers.list, headers);
    }
    for (const name in headers) {
      const value = headers[name] as string | string[];
      head.push(name, name === 'location' && typeof value === 'string' && route !== undefined ? publicLocation(route, value) : value);
    }
    res.writeHead(response.statusCode, head);
    response.body.once('error', (error) => {
      // Status and headers are out: all that is left is to cut the answer short.
      if (!cancel.aborted) deps.logger.warn({ err: error, service: route?.service, upstream: instance.id, request_id: exchange.requestId }, 'upstream response broke off');
      exchange.res.destroy(error);
    });
    response.body.pipe(res);
  }

  function admit(exchange: Exchange): void {
    proxy(exchange).catch((error: unknown) => fail(exchange, error));
  }

  return (req, res) => {
    const routes = routesFor(table, req.url ?? '/');
    if (routes === undefined) return false;
    const requestId = requestIdOf(req);
    const usual = fixedHeaders !== undefined && req.headers.origin === undefined && req.method !== 'OPTIONS';
    const headers = usual ? new PendingHeaders().setHeader('x-request-id', requestId) : res.setHeader('x-request-id', requestId);
    const exchange: Exchange = { req, res, routes, requestId, startedAt: performance.now(), cancel: new Cancellation(), tooLarge: false, headers };
    res.once('close', () => finish(exchange));
    if (usual) {
      admit(exchange);
      return true;
    }
    // A browser's request or a preflight (which CORS answers itself, without calling on).
    deps.securityHeaders(req, res, () => deps.cors(req, res, (error) => (error === undefined ? admit(exchange) : fail(exchange, error))));
    return true;
  };
}
