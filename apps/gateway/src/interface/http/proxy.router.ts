import type { Readable } from 'node:stream';
import { ProblemError, type Logger } from '@msr/service-defaults';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { GuardedForwardResult, ResilientForwarder } from '../../application/resilient-forwarder.js';
import { ClientGoneError, GatewayError } from '../../domain/gateway.errors.js';
import { allowedMethods, entryFor, groupByPrefix, publicLocation, upstreamPath, type GatewayRoute, type PrefixRoutes } from '../../domain/route-table.js';
import { noteForAccessLog } from './access-log.js';
import { authorize } from './authentication.js';
import { bodyTooLarge, declaredBodyLimit, limitStreamedBody } from './body-limit.js';
import { clientResponseHeaders, hasBody, upstreamRequestHeaders } from './forwarding-headers.js';

/** What {@link proxyRouter} needs. */
export interface ProxyRouterDeps {
  routes: readonly GatewayRoute[];
  forwarder: ResilientForwarder;
  logger: Logger;
  /** Largest request body forwarded, in bytes (413 beyond). */
  maxBodyBytes: number;
}

/** Picks the entry that serves the method (405 with `Allow` otherwise) and checks the caller may use it. */
function selectAndAuthorize(routes: PrefixRoutes): RequestHandler {
  return (req, res, next) => {
    noteForAccessLog(res, { route: routes.prefix });
    const route = entryFor(routes, req.method);
    if (route === undefined) {
      const allow = allowedMethods(routes).join(', ');
      res.setHeader('allow', allow);
      next(new ProblemError(405, 'ROUTE.METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${routes.prefix} (allowed: ${allow})`));
      return;
    }
    authorize(route, res);
    res.locals['route'] = route;
    next();
  };
}

/** The request body to forward: the request itself when its length is declared (and checked), else a counting stream. */
function bodyToForward(req: Request, maxBodyBytes: number, onTooLarge: () => void): Readable | undefined {
  if (!hasBody(req.headers)) return undefined;
  // A declared length was checked by declaredBodyLimit and the HTTP parser never reads past it.
  if (req.headers['content-length'] !== undefined) return req;
  return limitStreamedBody(req, maxBodyBytes, onTooLarge);
}

/** Forwards a request upstream and streams the answer back as it arrives. */
function forward(deps: ProxyRouterDeps): RequestHandler {
  return async (req, res, next) => {
    const route = res.locals['route'] as GatewayRoute;
    noteForAccessLog(res, { service: route.service });
    const cancel = new AbortController();
    // One listener for the whole exchange: the client going away cancels the upstream call, and
    // once an answer is streaming, also gives back its bulkhead slot and stops reading it.
    let answer: GuardedForwardResult | undefined;
    res.once('close', () => {
      if (!res.writableFinished) cancel.abort();
      if (answer !== undefined) {
        answer.release();
        if (!answer.response.body.readableEnded) answer.response.body.destroy();
      }
    });
    let tooLarge = false;
    const body = bodyToForward(req, deps.maxBodyBytes, () => {
      tooLarge = true;
      cancel.abort();
    });
    try {
      answer = await deps.forwarder.forward({
        service: route.service,
        method: req.method,
        path: upstreamPath(route, req.originalUrl),
        headers: upstreamRequestHeaders(req.headers, { ip: req.socket.remoteAddress, proto: req.protocol, host: req.get('host') }, body !== undefined),
        body,
      }, cancel);
    } catch (error) {
      if (error instanceof ClientGoneError) {
        if (tooLarge) next(bodyTooLarge(deps.maxBodyBytes));
        return;
      }
      if (error instanceof GatewayError && error.code === 'GATEWAY.CIRCUIT_OPEN') {
        res.setHeader('retry-after', String(Math.ceil(deps.forwarder.serviceBreaker(route.service).policy.resetTimeoutMs / 1_000)));
      }
      throw error;
    }
    if (cancel.signal.aborted) {
      // The client left just as the answer came: nobody to send it to.
      answer.release();
      answer.response.body.destroy();
      return;
    }
    sendUpstreamAnswer(res, route, answer, deps.logger, cancel.signal);
  };
}

/**
 * Streams the upstream's answer to the client. A plain `pipe` rather than `stream.pipeline`,
 * which allocates an AbortController and a DOMException per call: this is the hot path of every
 * proxied request. The caller's `close` listener gives the bulkhead slot back and stops reading
 * the upstream when the client goes away mid-answer.
 */
function sendUpstreamAnswer(res: Response, route: GatewayRoute, forwarded: GuardedForwardResult, logger: Logger, cancelled: AbortSignal): void {
  const { response, instance } = forwarded;
  noteForAccessLog(res, { upstream: instance.id });
  res.status(response.statusCode);
  for (const [name, value] of Object.entries(clientResponseHeaders(response.headers))) {
    res.setHeader(name, name === 'location' && typeof value === 'string' ? publicLocation(route, value) : value);
  }
  response.body.once('error', (error) => {
    // Status and headers are out: all that is left is to cut the answer short.
    if (!cancelled.aborted) logger.warn({ err: error, service: route.service, upstream: instance.id }, 'upstream response broke off');
    res.destroy(error);
  });
  response.body.pipe(res);
}

/**
 * The gateway's routes (SYSTEM.md "Gateway"): one Express route per routing-table prefix, the
 * most specific first. Each request gets the entry serving its method (405 otherwise), the
 * authorization that entry demands (401/403), the body limit (413), then is forwarded through
 * the service's bulkhead and breaker. Paths no prefix matches fall through to the app's 404.
 * Runs after the app's authentication and rate limiting.
 */
export function proxyRouter(deps: ProxyRouterDeps): Router {
  const router = Router();
  const limitDeclaredBody = declaredBodyLimit(deps.maxBodyBytes);
  for (const routes of groupByPrefix(deps.routes)) {
    // `{/*rest}` matches the prefix itself and everything below it, never `/api/usersX`.
    router.all(`${routes.prefix}{/*rest}`, selectAndAuthorize(routes), limitDeclaredBody, forward(deps));
  }
  return router;
}
