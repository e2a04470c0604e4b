import type { Logger } from '@msr/service-defaults';
import CircuitBreaker from 'opossum';
import type { Registry } from 'prom-client';
import { BreakerMetrics } from './breaker.metrics.js';
import { Bulkhead } from './bulkhead.js';
import { BreakerOpenError, CallTimeoutError } from './errors.js';
import { defaultBreakerPolicy, validatePolicy, type BreakerPolicy } from './policy.js';
import { RetryBudget, type RetryBudgetPolicy } from './retry-budget.js';

/** Where a breaker stands (seed 001): calls flow, calls are refused, or one trial call is allowed. */
export type BreakerState = 'closed' | 'open' | 'half_open';

/** A call guarded by a breaker. It should stop its work when `signal` aborts (pass it to undici/fetch). */
export type GuardedCall<T> = (signal: AbortSignal) => Promise<T>;

/**
 * A circuit breaker around calls to one upstream (an instance or a service), built on opossum 9.
 */
export interface Breaker {
  /** The key it was created under, e.g. `user-service@127.0.0.1:3001`; the `breaker` metric label. */
  readonly name: string;
  /** The policy it runs with. */
  readonly policy: Readonly<BreakerPolicy>;
  /** The current state. */
  readonly state: BreakerState;
  /**
   * Runs `call` through the breaker. Each call gets its own fresh `AbortSignal`, aborted at
   * `policy.timeoutMs` (never one shared controller that stays aborted after the first timeout).
   *
   * @returns what `call` resolved to.
   * @throws {BreakerOpenError} at once, without calling, while the breaker is open (or half-open
   *   with its trial call in flight).
   * @throws {CallTimeoutError} when `call` did not settle within `timeoutMs`; its signal is aborted.
   * @throws whatever `call` rejected with (counted as a failure unless `isFailure` says otherwise).
   */
  fire<T>(call: GuardedCall<T>, options?: FireOptions): Promise<T>;
  /**
   * Runs `call` with the signal of the caller's own `controller`, which the breaker aborts at
   * `timeoutMs`: an `AbortController`, or a lighter stand-in with the same two members (see
   * {@link CallController}).
   */
  fire<T, S>(call: (signal: S) => Promise<T>, options: Omit<FireOptions, 'controller'> & { controller: CallController<S> }): Promise<T>;
  /** Calls `listener` on every state change; returns a function that unsubscribes it. */
  onStateChange(listener: (state: BreakerState) => void): () => void;
}

/** Options of one {@link Breaker.fire}. */
export interface FireOptions {
  /**
   * A signal from the caller (e.g. "the client went away"): when it aborts, the call's own signal
   * aborts too, with the same reason. Cheaper than `AbortSignal.any` on a hot path: one listener,
   * removed when the call settles.
   */
  signal?: AbortSignal;
  /**
   * The controller whose signal the call gets, and which the breaker aborts at `timeoutMs`,
   * instead of a fresh one: for a caller that owns one controller per call already (e.g. one per
   * proxied request) and wants the timeout to abort it. It must not be shared between calls.
   */
  controller?: CallController<AbortSignal>;
}

/**
 * What the breaker aborts when a call times out, and whose `signal` the call gets: an
 * `AbortController`, or a stand-in with the same two members for a hot path where Node 20's
 * `AbortSignal` is dear (microseconds to create, to subscribe to and to unsubscribe from:
 * nodejs/performance#44, nodejs/node#55311), e.g. an `EventEmitter` with `aborted` and `reason`,
 * which undici takes as a request's `signal`.
 */
export interface CallController<S> {
  readonly signal: S;
  abort(reason?: unknown): void;
}

/** Per-breaker settings for {@link BreakerRegistry.get}: policy fields to override and a failure predicate. */
export interface BreakerOptions extends Partial<BreakerPolicy> {
  /**
   * Decides whether an error `call` rejected with counts against the breaker (opossum's
   * `errorFilter`, inverted). Default: every error counts. Return false for answers that are the
   * caller's fault, e.g. a 4xx, so they do not open the breaker; the error still reaches the caller.
   * Timeouts always count.
   */
  isFailure?: (error: unknown) => boolean;
  /**
   * Decides whether a value `call` resolved with is a failure all the same, e.g. an HTTP answer
   * with a 5xx status: it counts against the breaker, yet `fire` still resolves with it, so the
   * caller can pass the answer on. Default: no resolved value is a failure.
   */
  isFailedResult?: (value: unknown) => boolean;
}

/** What {@link BreakerRegistry} needs. */
export interface BreakerRegistryOptions {
  /** State changes are logged here (warn when opening, info when half-opening or closing). */
  logger: Logger;
  /** When given, `circuit_breaker_state{breaker}` and `circuit_breaker_calls_total{breaker,outcome}` are registered on it. */
  metricsRegistry?: Registry;
  /** Fields that override {@link defaultBreakerPolicy} for every breaker of this registry. */
  policy?: Partial<BreakerPolicy>;
}

type Call = (signal: unknown) => Promise<unknown>;
type Options = (Omit<FireOptions, 'controller'> & { controller?: CallController<unknown> }) | undefined;

/** Carries a resolved value that counts as a failure through opossum, to be unwrapped by `fire`. */
class FailedResult extends Error {
  constructor(readonly value: unknown) {
    super('the call resolved with a value that counts as a failure');
    this.name = 'FailedResult';
  }
}

/** An opossum breaker behind the {@link Breaker} interface, with one timeout and signal per call. */
class OpossumBreaker implements Breaker {
  private readonly circuit: CircuitBreaker<[Call, Options], unknown>;

  constructor(
    readonly name: string,
    readonly policy: Readonly<BreakerPolicy>,
    isFailure: (error: unknown) => boolean,
    private readonly isFailedResult: ((value: unknown) => boolean) | undefined,
    metrics: BreakerMetrics | undefined,
  ) {
    this.circuit = new CircuitBreaker<[Call, Options], unknown>((call, options) => this.runWithTimeout(call, options), {
      name,
      // Opossum's own timeout would abort one AbortController shared by every call; each call
      // gets its own controller and timer in runWithTimeout instead.
      timeout: false,
      errorThresholdPercentage: policy.errorThresholdPercentage,
      volumeThreshold: policy.volumeThreshold,
      resetTimeout: policy.resetTimeoutMs,
      rollingCountTimeout: policy.rollingCountTimeoutMs,
      // Percentiles make opossum keep every latency and sort them all on each failure, and
      // snapshots add a timer per breaker: nothing here reads either.
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      errorFilter: (error: unknown) => !(error instanceof CallTimeoutError) && !(error instanceof FailedResult) && !isFailure(error),
    });
    if (metrics !== undefined) {
      metrics.setState(name, 'closed');
      this.onStateChange((state) => metrics.setState(name, state));
      const calls = metrics.callCounts(name);
      this.circuit.on('success', () => (calls.success += 1));
      this.circuit.on('failure', (error) => (error instanceof CallTimeoutError ? (calls.timeout += 1) : (calls.failure += 1)));
      this.circuit.on('reject', () => (calls.rejected += 1));
    }
  }

  get state(): BreakerState {
    if (this.circuit.opened) return 'open';
    if (this.circuit.halfOpen) return 'half_open';
    return 'closed';
  }

  fire<T>(call: GuardedCall<T>, options?: FireOptions): Promise<T>;
  fire<T, S>(call: (signal: S) => Promise<T>, options: Omit<FireOptions, 'controller'> & { controller: CallController<S> }): Promise<T>;
  async fire<T>(call: (signal: never) => Promise<T>, options?: Options): Promise<T> {
    try {
      return (await this.circuit.fire(call as Call, options)) as T;
    } catch (error) {
      if (error instanceof FailedResult) return error.value as T;
      if ((error as { code?: unknown }).code === 'EOPENBREAKER' && CircuitBreaker.isOurError(error as Error)) {
        throw new BreakerOpenError(this.name);
      }
      throw error;
    }
  }

  onStateChange(listener: (state: BreakerState) => void): () => void {
    const onOpen = () => listener('open');
    const onHalfOpen = () => listener('half_open');
    const onClose = () => listener('closed');
    this.circuit.on('open', onOpen).on('halfOpen', onHalfOpen).on('close', onClose);
    return () => {
      this.circuit.off('open', onOpen).off('halfOpen', onHalfOpen).off('close', onClose);
    };
  }

  private runWithTimeout(call: Call, options: Options): Promise<unknown> {
    const controller: CallController<unknown> = options?.controller ?? new AbortController();
    const parent = options?.signal;
    if (parent?.aborted === true) controller.abort(parent.reason);
    const onParentAbort = () => controller.abort(parent?.reason);
    parent?.addEventListener('abort', onParentAbort, { once: true });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new CallTimeoutError(this.name, this.policy.timeoutMs);
        // Settle first, so the call's own rejection on abort cannot win the race.
        reject(error);
        controller.abort(error);
      }, this.policy.timeoutMs);
      const settled = () => {
        clearTimeout(timer);
        parent?.removeEventListener('abort', onParentAbort);
      };
      let result: Promise<unknown>;
      try {
        result = call(controller.signal);
      } catch (error) {
        settled();
        reject(error);
        return;
      }
      result.then(
        (value) => {
          settled();
          if (this.isFailedResult?.(value) === true) reject(new FailedResult(value));
          else resolve(value);
        },
        (error: unknown) => {
          settled();
          reject(error);
        },
      );
    });
  }
}

/**
 * Creates and keeps circuit breakers by name: one per upstream instance
 * (`user-service@127.0.0.1:3001`) so a dead instance is cut off without tripping the whole
 * service, and one per upstream service (`user-service`) guarding the outcome after retries.
 * Every breaker logs its state changes and, with a metrics registry, exports
 * `circuit_breaker_state{breaker}` (0 closed, 1 half_open, 2 open) and
 * `circuit_breaker_calls_total{breaker,outcome}` (success, failure, timeout, rejected). It also
 * keeps the bulkheads (`bulkhead_in_flight{bulkhead}`, `bulkhead_rejections_total{bulkhead}`) and
 * retry budgets (`retries_total{upstream,outcome}`) of the same upstreams.
 *
 * @example
 * const breakers = new BreakerRegistry({ logger, metricsRegistry: metrics.registry });
 * const user = await breakers.get('user-service@127.0.0.1:3001').fire((signal) => request(url, { signal }));
 */
export class BreakerRegistry {
  private readonly breakers = new Map<string, Breaker>();
  private readonly bulkheads = new Map<string, Bulkhead>();
  private readonly budgets = new Map<string, RetryBudget>();
  private readonly logger: Logger;
  private readonly metrics: BreakerMetrics | undefined;
  private readonly policy: Readonly<BreakerPolicy>;

  /** @throws {RangeError} when the merged default policy is out of range. */
  constructor(options: BreakerRegistryOptions) {
    this.logger = options.logger;
    this.metrics = options.metricsRegistry === undefined ? undefined : new BreakerMetrics(options.metricsRegistry);
    this.policy = Object.freeze(validatePolicy({ ...defaultBreakerPolicy, ...options.policy }));
  }

  /**
   * The breaker named `name`, created on first use with this registry's policy merged with
   * `options`. Later calls return the same breaker and ignore `options`.
   *
   * @throws {RangeError} when the merged policy is out of range.
   */
  get(name: string, options: BreakerOptions = {}): Breaker {
    const existing = this.breakers.get(name);
    if (existing !== undefined) return existing;
    const { isFailure = () => true, isFailedResult, ...overrides } = options;
    const policy = Object.freeze(validatePolicy({ ...this.policy, ...overrides }));
    const breaker = new OpossumBreaker(name, policy, isFailure, isFailedResult, this.metrics);
    const log = this.logger.child({ breaker: name });
    breaker.onStateChange((state) => {
      if (state === 'open') log.warn({ state, reset_timeout_ms: policy.resetTimeoutMs }, 'circuit breaker opened');
      else if (state === 'half_open') log.info({ state }, 'circuit breaker half-open: letting one trial call through');
      else log.info({ state }, 'circuit breaker closed');
    });
    this.breakers.set(name, breaker);
    return breaker;
  }

  /**
   * The bulkhead named `name` (usually the upstream service), created on first use with room for
   * `maxConcurrent` calls; later calls return the same bulkhead and ignore `maxConcurrent`.
   *
   * @throws {RangeError} when `maxConcurrent` is not an integer ≥ 1.
   */
  bulkhead(name: string, maxConcurrent: number): Bulkhead {
    const existing = this.bulkheads.get(name);
    if (existing !== undefined) return existing;
    const metrics = this.metrics;
    const log = this.logger.child({ bulkhead: name });
    let rejected = 0;
    const bulkhead = new Bulkhead(name, maxConcurrent, {
      onRejected: () => {
        metrics?.countBulkheadRejection(name);
        // One line per burst, not per refused call: a full bulkhead refuses many calls at once.
        if (rejected++ % 100 === 0) log.warn({ max_concurrent: maxConcurrent, rejected }, 'bulkhead full: refusing calls');
      },
    });
    metrics?.trackInFlight(name, () => bulkhead.inFlight);
    this.bulkheads.set(name, bulkhead);
    return bulkhead;
  }

  /**
   * The retry budget named `name` (usually the upstream service), created on first use with
   * `policy` over {@link defaultRetryBudgetPolicy}; pass it in a retry policy's `budget`.
   *
   * @throws {RangeError} when the policy is out of range.
   */
  retryBudget(name: string, policy: Partial<RetryBudgetPolicy> = {}): RetryBudget {
    const existing = this.budgets.get(name);
    if (existing !== undefined) return existing;
    const metrics = this.metrics;
    const budget = new RetryBudget(name, policy, { onRetry: (outcome) => metrics?.countRetry(name, outcome) });
    this.budgets.set(name, budget);
    return budget;
  }
}
