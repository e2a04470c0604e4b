import type { Logger } from '@msr/service-defaults';
import type { RequestHandler, Response } from 'express';

/** What the handlers learned about a request, for its access-log line; kept in `res.locals`. */
export interface AccessLogFields {
  /** The matched route, e.g. `/api/orders` (the routing-table prefix) or `/docs`. */
  route?: string;
  /** The upstream service that answered, e.g. `order-service`. */
  service?: string;
  /** The upstream instance that answered, e.g. `order-service-127.0.0.1-3002`. */
  upstream?: string;
}

/** Notes access-log fields for this request; later calls add to earlier ones. */
export function noteForAccessLog(res: Response, fields: AccessLogFields): void {
  const noted = res.locals['accessLog'] as AccessLogFields | undefined;
  if (noted === undefined) res.locals['accessLog'] = { ...fields };
  else Object.assign(noted, fields);
}

const quietPaths = new Set(['/health', '/health/live', '/metrics']);

/** One finished exchange, as the access log records it. */
export interface AccessRecord extends AccessLogFields {
  method: string;
  /** The request target as sent, path and query. */
  path: string;
  status: number;
  /** From arrival to the end of the answer (or the client leaving), in ms. */
  latencyMs: number;
  requestId: string | undefined;
  /** The client went away before the answer was complete. */
  aborted: boolean;
  /** A health check or metrics scrape: logged at debug when it succeeds. */
  routine?: boolean;
}

/**
 * Writes one access-log line: method, route, path, status, latency in ms, `upstream_service` and
 * `upstream_instance`, request id, and whether the client went away first. 5xx at error, 4xx at
 * warn, the rest at info (health checks and scrapes at debug).
 */
export function logAccess(logger: Logger, record: AccessRecord): void {
  const line: Record<string, unknown> = {
    method: record.method,
    route: record.route ?? 'unmatched',
    path: record.path,
    status: record.status,
    latency_ms: Math.round(record.latencyMs * 100) / 100,
    // `service` is the gateway's own (every line has it); these name the upstream.
    upstream_service: record.service,
    upstream_instance: record.upstream,
    request_id: record.requestId,
  };
  // Only on the rare line it is true; no object spread on every request.
  if (record.aborted) line['aborted'] = true;
  if (record.status >= 500) logger.error(line, 'request completed');
  else if (record.status >= 400) logger.warn(line, 'request completed');
  else if (record.routine === true) logger.debug(line, 'request completed');
  else logger.info(line, 'request completed');
}

/** {@link logAccess} for every request Express serves, once it is over. */
export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.locals['accessLog'] = {} satisfies AccessLogFields;
    res.once('close', () => {
      const requestId = res.getHeader('x-request-id');
      logAccess(logger, {
        ...((res.locals['accessLog'] as AccessLogFields | undefined) ?? {}),
        method: req.method,
        path: req.originalUrl,
        status: res.statusCode,
        latencyMs: performance.now() - started,
        requestId: typeof requestId === 'string' ? requestId : undefined,
        aborted: !res.writableFinished,
        routine: quietPaths.has(req.path),
      });
    });
    next();
  };
}
