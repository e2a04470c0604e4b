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

/**
 * One JSON line per request once it is over: method, route, path, status, latency in ms,
 * `upstream_service` and `upstream_instance`, request id, and whether the client went away first. 5xx at error, 4xx at
 * warn, the rest at info (health checks and scrapes at debug).
 */
export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.locals['accessLog'] = {} satisfies AccessLogFields;
    res.once('close', () => {
      const fields = (res.locals['accessLog'] as AccessLogFields | undefined) ?? {};
      const status = res.statusCode;
      const line = {
        method: req.method,
        route: fields.route ?? 'unmatched',
        path: req.originalUrl,
        status,
        latency_ms: Math.round((performance.now() - started) * 100) / 100,
        // `service` is the gateway's own (every line has it); these name the upstream.
        upstream_service: fields.service,
        upstream_instance: fields.upstream,
        request_id: res.getHeader('x-request-id'),
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      if (status >= 500) logger.error(line, 'request completed');
      else if (status >= 400) logger.warn(line, 'request completed');
      else if (quietPaths.has(req.path)) logger.debug(line, 'request completed');
      else logger.info(line, 'request completed');
    });
    next();
  };
}
