import { BreakerOpenError, CallTimeoutError, type Breaker, type BreakerPolicy, type BreakerRegistry, type ReleaseSlot } from '@msr/circuit-breaker';
import { GatewayError } from '../domain/gateway.errors.js';
import type { ForwardRequest, ForwardResult } from './proxy.service.js';

/** Forwards one request to some instance of a service (a `ProxyService`: discovery, instance breakers, retries). */
export interface Forwarder {
  forward(request: ForwardRequest): Promise<ForwardResult>;
}

/** What {@link ResilientForwarder} needs. */
export interface ResilientForwarderDeps {
  /**
   * The forwarder for one upstream service, asked once per service: a `ProxyService` whose retry
   * policy carries that service's retry budget, so a failing service cannot double its own load.
   */
  forwarderFor: (service: string) => Forwarder;
  /** Where the service breakers and bulkheads live (the same registry as the instance breakers, for one set of metrics). */
  breakers: BreakerRegistry;
  /** Policy of each service breaker; its timeout must cover every attempt of one request. */
  servicePolicy: BreakerPolicy;
  /** Requests in flight per service at most (bulkhead); beyond it 503 at once. */
  maxConcurrentPerService: number;
}

/** A forwarded answer that holds a bulkhead slot until the caller has streamed its body. */
export interface GuardedForwardResult extends ForwardResult {
  /** Gives the bulkhead slot back; call it when the answer is fully sent or abandoned. Idempotent. */
  release: ReleaseSlot;
}

/** Outcomes that say the service is failing, as opposed to the registry or the client. */
const serviceFailures = new Set(['GATEWAY.UPSTREAM_TIMEOUT', 'GATEWAY.UPSTREAM_UNREACHABLE', 'GATEWAY.BAD_UPSTREAM_RESPONSE', 'GATEWAY.CIRCUIT_OPEN']);

function isServiceFailure(error: unknown): boolean {
  return error instanceof GatewayError && serviceFailures.has(error.code);
}

/**
 * The gateway's outer resilience layers around each upstream service (issue 4): a bulkhead
 * bounding its requests in flight, and a service breaker guarding the outcome after the
 * per-instance breakers and retries inside the forwarder. While the service breaker is open the
 * gateway answers 503 in microseconds without discovery or a connection attempt; after its
 * reset timeout one trial request goes through, and its success closes the breaker.
 *
 * A 5xx answer, a timeout, an unreachable or garbled upstream and "every instance's breaker is
 * open" count against the service; a client that went away, an empty registry and 4xx answers do not.
 */
export class ResilientForwarder {
  private readonly forwarders = new Map<string, Forwarder>();
  /** The registry's service breakers, looked up once per service rather than on every request. */
  private readonly serviceBreakers = new Map<string, Breaker>();

  constructor(private readonly deps: ResilientForwarderDeps) {}

  /**
   * Forwards through the bulkhead and the service breaker; resolves once status and headers arrived.
   *
   * @param request - what to forward; its `cancel` is aborted by the caller when the client goes
   *   away, and here when the service breaker's timeout passes.
   * @throws {GatewayError} `BULKHEAD_FULL` or `CIRCUIT_OPEN` (the service breaker, nothing sent),
   *   `UPSTREAM_TIMEOUT`, or whatever the forwarder threw.
   * @throws {ClientGoneError} (from the forwarder) when the client went away first.
   */
  async forward(request: ForwardRequest): Promise<GuardedForwardResult> {
    const { service, cancel } = request;
    const release = this.deps.breakers.bulkhead(service, this.deps.maxConcurrentPerService).tryAcquire();
    if (release === undefined) {
      throw new GatewayError('GATEWAY.BULKHEAD_FULL', service, `${service} already has ${this.deps.maxConcurrentPerService} requests in flight`);
    }
    const breaker = this.serviceBreaker(service);
    try {
      // The breaker's timeout aborts `cancel` itself: the request's one cancellation, also the client's.
      const { response, instance } = await breaker.fire(() => this.forwarderOf(service).forward(request), { controller: cancel });
      return { response, instance, release };
    } catch (error) {
      release();
      if (error instanceof BreakerOpenError) {
        throw new GatewayError('GATEWAY.CIRCUIT_OPEN', service, `${service} is failing; its circuit breaker is open`, { cause: error });
      }
      if (error instanceof CallTimeoutError) {
        throw new GatewayError('GATEWAY.UPSTREAM_TIMEOUT', service, `${service} did not answer within ${error.timeoutMs} ms`, { cause: error });
      }
      throw error;
    }
  }

  /** The breaker of `service` (named after it), e.g. for its reset timeout in `Retry-After`. */
  serviceBreaker(service: string): Breaker {
    let breaker = this.serviceBreakers.get(service);
    if (breaker === undefined) {
      breaker = this.deps.breakers.get(service, {
        ...this.deps.servicePolicy,
        isFailure: isServiceFailure,
        isFailedResult: (result) => (result as ForwardResult).response.statusCode >= 500,
      });
      this.serviceBreakers.set(service, breaker);
    }
    return breaker;
  }

  private forwarderOf(service: string): Forwarder {
    let forwarder = this.forwarders.get(service);
    if (forwarder === undefined) {
      forwarder = this.deps.forwarderFor(service);
      this.forwarders.set(service, forwarder);
    }
    return forwarder;
  }
}
