import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Health } from './health.js';
import { runWithLogContext } from './logger.js';
import type { Metrics } from './metrics.js';
import { notFoundHandler, problemHandler, type ErrorMapper } from './problem.js';

/** What {@link createHttpApp} needs. */
export interface HttpAppOptions {
  logger: Logger;
  health: Health;
  metrics: Metrics;
  /** Adds the app's own routes; called after the common middleware, before 404 and errors. */
  routes: (app: Express) => void;
  /** Maps the app's domain errors to problems; see {@link problemHandler}. */
  mapError?: ErrorMapper;
  /** Largest JSON body accepted, e.g. `100kb`; larger ones get 413. */
  bodyLimit?: string;
  /**
   * Parse `application/json` bodies into `req.body` (default true). A proxy such as the gateway
   * turns it off so request bodies stay unread streams it can pass through.
   */
  parseJson?: boolean;
  /**
   * Routine requests, such as heartbeats, whose successful answers are logged at debug instead
   * of info so they do not drown the access log. Failures are still logged as usual.
   */
  isRoutine?: (req: IncomingMessage) => boolean;
}

const requestIdPattern = /^[\w.:-]{1,128}$/;

/**
 * The request's id: its `X-Request-Id` when well formed (1 to 128 letters, digits and `_.:-`),
 * else a fresh UUID, which is then written into `req.headers` so that it is forwarded as well.
 */
export function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  if (typeof incoming === 'string' && requestIdPattern.test(incoming)) return incoming;
  const id = randomUUID();
  req.headers['x-request-id'] = id;
  return id;
}

/**
 * Takes `X-Request-Id` from the caller when it is well formed, makes one otherwise, echoes it on
 * the response, and puts it in the log context of everything the request does.
 */
export const requestId: RequestHandler = (req, res, next) => {
  const id = requestIdOf(req);
  res.setHeader('x-request-id', id);
  runWithLogContext({ request_id: id }, next);
};

/**
 * Builds an Express 5 app with the middleware every service shares: request id, JSON access
 * logs, HTTP metrics, a JSON body parser, `GET /health`, `GET /health/live`, `GET /metrics`,
 * then the app's routes, then 404 and problem+json errors. It never listens (STYLE.md rule 4):
 * call {@link listen}.
 */
export function createHttpApp(options: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestId);
  app.use(
    pinoHttp({
      logger: options.logger,
      genReqId: (req) => String(req.headers['x-request-id']),
      autoLogging: { ignore: (req) => req.url === '/health' || req.url === '/metrics' || req.url === '/health/live' },
      customLogLevel: (req, res, error) => {
        if (error || res.statusCode >= 500) return 'error';
        if (res.statusCode >= 400) return 'warn';
        return options.isRoutine?.(req) ? 'debug' : 'info';
      },
      quietReqLogger: true,
      // What an access log needs, and no headers: pino-http's default logs every header,
      // bearer tokens and cookies included, and serializing them costs more than the rest of the line.
      serializers: {
        req: (req: { id: unknown; method: string; url: string; remoteAddress?: string }) => ({ id: req.id, method: req.method, url: req.url, remote_address: req.remoteAddress }),
        res: (res: { statusCode: number }) => ({ status_code: res.statusCode }),
      },
    }),
  );
  app.use(options.metrics.httpMiddleware);
  if (options.parseJson ?? true) {
    app.use(express.json({ limit: options.bodyLimit ?? '100kb', type: ['application/json', 'application/*+json'] }));
  }
  app.get('/health', options.health.handler);
  app.get('/health/live', options.health.liveHandler);
  app.get('/metrics', options.metrics.handler);
  options.routes(app);
  app.use(notFoundHandler);
  app.use(problemHandler(options.logger, options.mapError));
  return app;
}

/** A listening server and the port it actually got (differs from the asked one for port 0). */
export interface Listening {
  server: Server;
  port: number;
}

/** Starts an HTTP server for `app` (an Express app or any request listener); resolves once the socket is bound. */
export function listen(app: RequestListener, port: number, host: string): Promise<Listening> {
  return new Promise((resolve, reject) => {
    const server = createServer(app).listen(port, host);
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve({ server, port: (server.address() as AddressInfo).port });
    });
  });
}

/**
 * Stops accepting connections and waits for in-flight requests to finish. Idle keep-alive
 * connections are closed at once; busy ones are cut after `graceMs`.
 */
export function closeServer(server: Server, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
