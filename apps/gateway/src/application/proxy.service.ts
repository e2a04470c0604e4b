import type { Readable } from 'node:stream';
import {
  BreakerOpenError,
  CallTimeoutError,
  withRetry,
  type Breaker,
  type BreakerRegistry,
  type RetryPolicy,
} from '@msr/circuit-breaker';
import {
  breakerNameFor,
  NoHealthyInstanceError,
  OutlierDetector,
  outlierFailureOf,
  type InstanceSource,
  type LoadBalancer,
  type OutlierFailure,
  type ServiceInstance,
} from '@msr/discovery';
import type { Logger } from '@msr/service-defaults';
import { ClientGoneError, GatewayError } from '../domain/gateway.errors.js';
import type { Cancellation } from './cancellation.js';
import type { UpstreamClient, UpstreamResponse } from './upstream.port.js';

/** What {@link ProxyService} needs. */
export interface ProxyServiceDeps {
  /** Usually `ServiceDiscovery` from `@msr/discovery` (cached, stale-if-error). */
  discovery: InstanceSource;
  balancer: LoadBalancer;
  /** Breakers are kept per upstream instance, so one dead instance is cut off on its own. */
  breakers: BreakerRegistry;
  upstream: UpstreamClient;
  /**
   * Attempts for one request. An idempotent request (GET, HEAD or OPTIONS, without a body) that
   * could not connect is retried on another instance; a POST is never sent twice, but any request
   * may move to another instance when the picked one's breaker refused it, as nothing was sent.
   */
  retry: RetryPolicy;
  logger: Logger;
  /**
   * Passive ejection (outlier detection): an instance that refuses or resets a connection is
   * taken out of rotation at once, one that keeps answering 5xx or timing out after a run of
   * failures; never more than half of a service's instances. Default: an `OutlierDetector`
   * from `@msr/discovery` with its default policy. Pass one to tune it or to export its metrics.
   */
  outliers?: OutlierDetector;
}

/** A request to forward to one of a service's instances. */
export interface ForwardRequest {
  /** The registry name of the upstream service, from the routing table. */
  service: string;
  method: string;
  /** Upstream path and query, e.g. `/users/1?x=1`. */
  path: string;
  headers: Record<string, string | string[]>;
  /** The request body stream, or undefined for none. */
  body?: Readable;
  /**
   * The exchange's one cancellation, aborted when the client goes away and by the deadline of the
   * service breaker or of an instance's breaker; the upstream call is aborted with it. One for
   * all attempts: an attempt that timed out is never retried, so no later attempt needs a fresh
   * one (see `isRetryable` in {@link ProxyService.forward}).
   */
  cancel: Cancellation;
}

/** The upstream's answer and which instance gave it. */
export interface ForwardResult {
  response: UpstreamResponse;
  instance: ServiceInstance;
}

/** A 5xx answer, thrown inside the breaker so it counts as a failure, then returned as is. */
class FailedAnswer extends Error {
  constructor(readonly response: UpstreamResponse) {
    super(`upstream answered ${response.statusCode}`);
    this.name = 'FailedAnswer';
  }
}

const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The gateway's one use case: forward a request to a healthy instance of a service, through
 * discovery, passive ejection of failing instances, load balancing, a circuit breaker per
 * instance and, where safe, a retry on another instance (seed 002's API gateway; SYSTEM.md
 * "Gateway"; issue 3's failover).
 *
 * Upstream answers of any status are returned unchanged; 5xx answers count as failures of the
 * instance's breaker and towards its ejection. Every failed attempt is logged with the instance
 * (`upstream_address`), which is how the failover bench sees when a dead instance stopped
 * getting traffic.
 */
export class ProxyService {
  private readonly outliers: OutlierDetector;
  /** The registry's instance breakers by name, without building their options again several times per request. */
  private readonly instanceBreakers = new Map<string, Breaker>();

  constructor(private readonly deps: ProxyServiceDeps) {
    this.outliers = deps.outliers ?? new OutlierDetector({ logger: deps.logger });
  }

  /**
   * Forwards `request` and resolves once the upstream's status and headers arrived.
   *
   * @throws {GatewayError} `NO_HEALTHY_INSTANCE`, `DISCOVERY_UNAVAILABLE`, `CIRCUIT_OPEN`,
   *   `UPSTREAM_TIMEOUT`, `UPSTREAM_UNREACHABLE` or `BAD_UPSTREAM_RESPONSE`.
   * @throws {ClientGoneError} when the client went away first.
   */
  async forward(request: ForwardRequest): Promise<ForwardResult> {
    const instances = this.outliers.available(request.service, await this.instancesOf(request.service));
    const idempotent = idempotentMethods.has(request.method) && request.body === undefined;
    const tried = new Set<string>();
    // A retry goes to an instance not tried yet, not ejected meanwhile, and whose breaker lets calls through.
    const untried = () =>
      instances.filter((instance) => !tried.has(instance.id) && !this.outliers.isEjected(instance) && this.breakerOf(instance).state !== 'open');

    return withRetry(
      async (attempt) => {
        const candidates = untried();
        const instance = this.deps.balancer.pick(request.service, candidates);
        if (instance === undefined) {
          throw new GatewayError('GATEWAY.CIRCUIT_OPEN', request.service, `Every instance of ${request.service} is failing; its circuit breakers are open`);
        }
        tried.add(instance.id);
        const startedAt = performance.now();
        let response: UpstreamResponse;
        try {
          response = await this.send(request, instance);
        } catch (error) {
          this.deps.balancer.release(instance);
          this.recordFailure(request, instance, attempt, performance.now() - startedAt, error);
          throw error;
        }
        if (response.statusCode >= 500) this.outliers.recordFailure(instance, 'server_error');
        else this.outliers.recordSuccess(instance);
        // The exchange is outstanding until the body has been streamed (least_outstanding counts it).
        response.body.once('close', () => this.deps.balancer.release(instance));
        return { response, instance };
      },
      this.deps.retry,
      {
        isRetryable: (error) =>
          !request.cancel.aborted &&
          error instanceof GatewayError &&
          (error.code === 'GATEWAY.CIRCUIT_OPEN' || (idempotent && error.code === 'GATEWAY.UPSTREAM_UNREACHABLE')) &&
          untried().length > 0,
        onRetry: ({ attempt, error }) =>
          this.deps.logger.debug({ service: request.service, attempt, err: error }, 'retrying on another instance'),
      },
    );
  }

  /**
   * Reports a failed attempt to the outlier detector and the log (`duration_ms`: from sending to
   * the failure, so the log also tells when the attempt was sent). An open breaker or a client
   * that went away says nothing about the instance.
   */
  private recordFailure(request: ForwardRequest, instance: ServiceInstance, attempt: number, durationMs: number, error: unknown): void {
    if (error instanceof ClientGoneError || (error instanceof GatewayError && error.code === 'GATEWAY.CIRCUIT_OPEN')) return;
    const failure = failureOf(error);
    if (failure !== undefined) this.outliers.recordFailure(instance, failure);
    this.deps.logger.warn(
      {
        service: request.service,
        upstream: instance.id,
        upstream_address: `${instance.address}:${instance.port}`,
        attempt,
        duration_ms: Math.round(durationMs * 10) / 10,
        failure: failure ?? 'other',
        request_id: request.headers['x-request-id'],
        err: error,
      },
      'upstream attempt failed',
    );
  }

  private async instancesOf(service: string): Promise<readonly ServiceInstance[]> {
    let instances: readonly ServiceInstance[];
    try {
      instances = await this.deps.discovery.instances(service);
    } catch (error) {
      if (error instanceof NoHealthyInstanceError) instances = [];
      else throw new GatewayError('GATEWAY.DISCOVERY_UNAVAILABLE', service, `Cannot look up ${service}: the registry is unreachable`, { cause: error });
    }
    if (instances.length === 0) {
      throw new GatewayError('GATEWAY.NO_HEALTHY_INSTANCE', service, `No healthy instance of ${service} is registered`);
    }
    return instances;
  }

  /** The instance's own breaker, `<service>@<address>:<port>` as everywhere in the system. */
  private breakerOf(instance: ServiceInstance): Breaker {
    const name = breakerNameFor(instance);
    let breaker = this.instanceBreakers.get(name);
    if (breaker === undefined) {
      breaker = this.deps.breakers.get(name, { isFailure: (error) => !(error instanceof ClientGoneError) });
      this.instanceBreakers.set(name, breaker);
    }
    return breaker;
  }

  /** One attempt against one instance, through its breaker, whose deadline aborts the exchange's controller. */
  private async send(request: ForwardRequest, instance: ServiceInstance): Promise<UpstreamResponse> {
    const breaker = this.breakerOf(instance);
    try {
      return await breaker.fire(async (signal: Cancellation) => {
        try {
          const response = await this.deps.upstream.send(instance, {
            method: request.method,
            path: request.path,
            headers: request.headers,
            body: request.body,
            signal,
          });
          if (response.statusCode >= 500) throw new FailedAnswer(response);
          return response;
        } catch (error) {
          if (request.cancel.aborted) throw new ClientGoneError();
          throw error;
        }
      }, { controller: request.cancel });
    } catch (error) {
      if (error instanceof FailedAnswer) return error.response;
      if (error instanceof BreakerOpenError) {
        throw new GatewayError('GATEWAY.CIRCUIT_OPEN', request.service, `The circuit breaker of ${breaker.name} is open`, { cause: error });
      }
      if (error instanceof CallTimeoutError) {
        throw new GatewayError('GATEWAY.UPSTREAM_TIMEOUT', request.service, `${request.service} did not answer within ${error.timeoutMs} ms`, { cause: error });
      }
      throw error;
    }
  }
}

/** How a failed attempt counts towards ejection. */
function failureOf(error: unknown): OutlierFailure | undefined {
  if (error instanceof GatewayError) {
    switch (error.code) {
      case 'GATEWAY.UPSTREAM_TIMEOUT':
        return 'timeout';
      case 'GATEWAY.BAD_UPSTREAM_RESPONSE':
        return 'server_error';
      case 'GATEWAY.UPSTREAM_UNREACHABLE':
        // Refused or reset, from the undici error underneath; a connection cut some other way counts as reset.
        return outlierFailureOf(error.cause) ?? 'connection_reset';
      default:
        return undefined;
    }
  }
  return outlierFailureOf(error);
}
