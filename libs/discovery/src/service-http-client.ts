import { BreakerOpenError, withRetry, type BreakerRegistry, type RetryPolicy } from '@msr/circuit-breaker';
import { currentLogContext, type Logger } from '@msr/service-defaults';
import { Agent, request, type Dispatcher } from 'undici';
import { NoHealthyInstanceError } from './errors.js';
import { createLoadBalancer, type LoadBalancer, type LoadBalancingStrategy } from './load-balancer.js';
import { OutlierDetector, outlierFailureOf } from './outlier-detector.js';
import type { InstanceSource } from './service-discovery.js';
import { breakerNameFor, instanceBaseUrl, type ServiceInstance } from './service-instance.js';

/** HTTP methods a {@link ServiceRequest} may use. */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/** One call to a service, by name. */
export interface ServiceRequest {
  method: HttpMethod;
  /** Path and query, e.g. `/users/42` or `/orders?user_id=7`. */
  path: string;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * Whether the call may be repeated (on another instance) after a timeout, a reset connection or
   * a 502/503/504. Default: true for GET, HEAD, PUT, DELETE and OPTIONS.
   */
  idempotent?: boolean;
}

/** The answer of a service: whatever status it had, the body parsed as JSON when it is JSON. */
export interface ServiceResponse<T> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON for JSON answers, the text otherwise, undefined when empty. */
  body: T;
  /** The instance that answered. */
  instance: ServiceInstance;
}

/** What {@link ServiceHttpClient} needs. */
export interface ServiceHttpClientOptions {
  /** Usually a {@link ServiceDiscovery}. */
  discovery: InstanceSource;
  breakers: BreakerRegistry;
  strategy: LoadBalancingStrategy;
  logger: Logger;
  /**
   * Attempts and backoff (each retry goes to another instance when there is one). Default:
   * 3 attempts, backoff under 20 ms then under 40 ms; a different instance needs no long wait.
   */
  retry?: RetryPolicy;
  /** Per-attempt timeout in ms, set on each instance's breaker when it is created; default: the breaker registry's policy. */
  timeoutMs?: number;
  /**
   * Passive ejection of failing instances; default: an {@link OutlierDetector} with the default
   * policy. Pass one to share it (e.g. with metrics) or to tune it.
   */
  outliers?: OutlierDetector;
}

/** The default {@link RetryPolicy} of {@link ServiceHttpClient}. */
export const defaultServiceRetryPolicy: Readonly<RetryPolicy> = Object.freeze({ maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 200 });

const idempotentMethods = new Set<HttpMethod>(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** Errors that prove the request never reached the instance, so any method may go elsewhere. */
const notSentCodes = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
/** Answers that say "try elsewhere" (a draining, overloaded or unreachable upstream). */
const retryableStatuses = new Set([502, 503, 504]);
/** Hop-by-hop headers belong to one connection and must not be forwarded (undici refuses some). */
const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host', 'content-length']);

/** A 5xx answer, thrown inside the breaker so it counts as a failure, and unwrapped for the caller. */
class ServerErrorAnswer extends Error {
  constructor(readonly response: ServiceResponse<unknown>) {
    super(`${response.instance.name} answered ${response.status}`);
    this.name = 'ServerErrorAnswer';
  }
}

/**
 * Service-to-service HTTP through discovery, passive ejection, client-side load balancing and a
 * circuit breaker per instance (`<service>@<address>:<port>`, so one sick instance is cut off
 * without tripping the whole service). An instance that refuses or resets a connection, or keeps
 * failing, is ejected for a while ({@link OutlierDetector}). Idempotent requests that fail are
 * retried with backoff on a different instance; any request is retried elsewhere when it
 * provably was not sent (open breaker, connection refused). Forwards `X-Request-Id` from the log
 * context.
 */
export class ServiceHttpClient {
  private readonly balancer: LoadBalancer;
  private readonly retry: RetryPolicy;
  private readonly logger: Logger;
  private readonly outliers: OutlierDetector;
  private readonly agent: Dispatcher = new Agent({ keepAliveTimeout: 4_000, connect: { timeout: 2_000 } });

  constructor(private readonly options: ServiceHttpClientOptions) {
    this.balancer = createLoadBalancer(options.strategy);
    this.retry = options.retry ?? defaultServiceRetryPolicy;
    this.logger = options.logger.child({ component: 'service-http-client' });
    this.outliers = options.outliers ?? new OutlierDetector({ logger: options.logger });
  }

  /**
   * Calls `service`. Non-2xx answers are returned, not thrown (a 5xx counts as a failure of that
   * instance's breaker and, for idempotent calls, a 502/503/504 is retried elsewhere first).
   *
   * @throws {NoHealthyInstanceError} when the service has no instance (or the registry was never reachable).
   * @throws {BreakerOpenError} when every instance tried had its breaker open.
   * @throws {CallTimeoutError} when the last attempt timed out.
   * @throws the network error of the last attempt (e.g. `ECONNREFUSED`).
   */
  async request<T = unknown>(service: string, req: ServiceRequest): Promise<ServiceResponse<T>> {
    const instances = this.outliers.available(service, await this.instancesOf(service));
    const idempotent = req.idempotent ?? idempotentMethods.has(req.method);
    const tried = new Set<string>();
    try {
      return (await withRetry(
        async (attempt) => {
          // A retry goes to an instance not tried yet and not ejected meanwhile, while there is one.
          const untried = instances.filter((instance) => !tried.has(instance.id) && !this.outliers.isEjected(instance));
          const instance = this.balancer.pick(service, untried.length > 0 ? untried : instances);
          if (instance === undefined) throw new NoHealthyInstanceError(service);
          tried.add(instance.id);
          try {
            const answer = await this.send(instance, req);
            this.outliers.recordSuccess(instance);
            return answer;
          } catch (error) {
            this.recordOutcome(instance, error);
            this.logger.debug({ service_name: service, instance_id: instance.id, attempt, err: error }, 'call failed');
            throw error;
          } finally {
            this.balancer.release(instance);
          }
        },
        this.retry,
        { isRetryable: (error) => isRetryable(error, idempotent) },
      )) as ServiceResponse<T>;
    } catch (error) {
      if (error instanceof ServerErrorAnswer) return error.response as ServiceResponse<T>;
      throw error;
    }
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Tells the outlier detector how a failed attempt went; an open breaker says nothing about the instance. */
  private recordOutcome(instance: ServiceInstance, error: unknown): void {
    if (error instanceof ServerErrorAnswer) {
      this.outliers.recordFailure(instance, 'server_error');
      return;
    }
    const failure = outlierFailureOf(error);
    if (failure !== undefined) this.outliers.recordFailure(instance, failure);
  }

  private async instancesOf(service: string): Promise<readonly ServiceInstance[]> {
    let instances: readonly ServiceInstance[];
    try {
      instances = await this.options.discovery.instances(service);
    } catch (error) {
      throw new NoHealthyInstanceError(service, { cause: error });
    }
    if (instances.length === 0) throw new NoHealthyInstanceError(service);
    return instances;
  }

  private send(instance: ServiceInstance, req: ServiceRequest): Promise<ServiceResponse<unknown>> {
    const breaker = this.options.breakers.get(breakerNameFor(instance), this.options.timeoutMs === undefined ? {} : { timeoutMs: this.options.timeoutMs });
    return breaker.fire(async (signal) => {
      const response = await request(`${instanceBaseUrl(instance)}${req.path}`, {
        method: req.method,
        headers: this.headersFor(req),
        ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }),
        signal,
        dispatcher: this.agent,
      });
      const text = await response.body.text();
      const answer: ServiceResponse<unknown> = {
        status: response.statusCode,
        headers: response.headers,
        body: parseBody(text, response.headers['content-type']),
        instance,
      };
      if (answer.status >= 500) throw new ServerErrorAnswer(answer);
      return answer;
    });
  }

  private headersFor(req: ServiceRequest): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json' };
    for (const [name, value] of Object.entries(req.headers ?? {})) {
      if (!hopByHop.has(name.toLowerCase())) headers[name.toLowerCase()] = value;
    }
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    const requestId = currentLogContext().request_id;
    if (requestId !== undefined && headers['x-request-id'] === undefined) headers['x-request-id'] = requestId;
    return headers;
  }
}

function isRetryable(error: unknown, idempotent: boolean): boolean {
  if (error instanceof NoHealthyInstanceError) return false;
  if (error instanceof BreakerOpenError) return true;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && notSentCodes.has(code)) return true;
  if (error instanceof ServerErrorAnswer) return idempotent && retryableStatuses.has(error.response.status);
  // A timeout or a reset may have reached the instance: only an idempotent call may be repeated.
  return idempotent;
}

function parseBody(text: string, contentType: string | string[] | undefined): unknown {
  if (text === '') return undefined;
  const type = Array.isArray(contentType) ? contentType.join(',') : (contentType ?? '');
  if (!/\bjson\b/i.test(type)) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
