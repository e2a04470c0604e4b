import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * One Prometheus registry per process, labelled with the service name, with Node's default
 * metrics and an HTTP server latency histogram. Libraries register their own metrics on
 * `metrics.registry`.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Duration of HTTP requests served, in seconds.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
  }

  /** Times every request; the route label is the matched route pattern, never the raw path. */
  readonly httpMiddleware: RequestHandler = (req, res, next) => {
    const startedAt = performance.now();
    res.on('finish', () => {
      const route = req.route?.path === undefined ? 'unmatched' : `${req.baseUrl}${String(req.route.path)}`;
      this.observeHttpRequest(req.method, route, res.statusCode, performance.now() - startedAt);
    });
    next();
  };

  /**
   * Records one served request, for handlers outside Express.
   *
   * @param route - the matched route pattern or prefix (never the raw path: it would explode the series).
   * @param durationMs - from the request's arrival to its answer, in ms.
   */
  observeHttpRequest(method: string, route: string, statusCode: number, durationMs: number): void {
    this.httpDuration.observe({ method, route, status_code: String(statusCode) }, durationMs / 1_000);
  }

  /** `GET /metrics` in the Prometheus text format. */
  readonly handler: RequestHandler = async (_req, res) => {
    res.type(this.registry.contentType).send(await this.registry.metrics());
  };
}
