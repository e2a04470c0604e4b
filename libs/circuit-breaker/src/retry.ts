import { setTimeout as delay } from 'node:timers/promises';
import { BreakerOpenError, CallTimeoutError } from './errors.js';
import type { RetryBudget } from './retry-budget.js';

/** How often and how patiently {@link withRetry} tries. */
export interface RetryPolicy {
  /** Total attempts including the first; 1 means no retry. */
  maxAttempts: number;
  /** Upper bound of the first backoff, in ms; doubles with each retry. */
  baseDelayMs: number;
  /** Cap of any single backoff, in ms. */
  maxDelayMs: number;
  /**
   * A retry budget shared by every call to the same upstream: each first attempt counts as a
   * request, and a retry the budget refuses is not made (the last error is thrown instead).
   * It also counts retries in `retries_total`. Default: none (only `maxAttempts` caps retries).
   */
  budget?: RetryBudget;
}

/** Three attempts, backing off up to 100 ms then up to 200 ms (never more than 2 s). */
export const defaultRetryPolicy: Readonly<RetryPolicy> = Object.freeze({ maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 2_000 });

/**
 * The backoff before the next attempt, "exponential backoff with full jitter" (AWS Architecture
 * Blog): a uniformly random delay in `[0, min(maxDelayMs, baseDelayMs * 2^(attempt - 1)))`. The
 * randomness spreads out clients that failed together, so they do not retry in lockstep.
 *
 * @param attempt - the attempt that just failed, 1-based.
 * @param random - a source of uniform numbers in `[0, 1)`; `Math.random` unless testing.
 * @returns the delay in ms (a whole number).
 */
export function fullJitterDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * One attempt of {@link withRetry}: its 1-based number, and the signal that aborts it (pass it to
 * undici or fetch), `undefined` when nothing can.
 */
export type RetriedAttempt<T> = (attempt: number, signal: AbortSignal | undefined) => Promise<T>;

/** Options of {@link withRetry}. */
export interface RetryOptions {
  /**
   * Whether an error is worth another attempt. Default: every error except
   * {@link BreakerOpenError}: an open breaker stays open for its whole reset timeout, far longer
   * than any backoff, so retrying it only burns attempts. Callers that retry on a different
   * upstream (another instance behind its own breaker) should say so here.
   */
  isRetryable?: (error: unknown) => boolean;
  /** Called before each backoff, e.g. to log or count the retry. */
  onRetry?: (event: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Uniform random numbers in `[0, 1)` for the jitter; `Math.random` unless testing. */
  random?: () => number;
  /**
   * Stops retrying when aborted: a pending backoff rejects with Node's `AbortError`, and the
   * signal of the attempt in flight aborts too.
   */
  signal?: AbortSignal;
  /**
   * Per-attempt timeout in ms: each attempt's own signal aborts after it, and the attempt
   * rejects with {@link CallTimeoutError} (retryable unless `isRetryable` says otherwise).
   * Default: none (a breaker around each attempt usually brings its own timeout).
   */
  attemptTimeoutMs?: number;
  /** The name in a {@link CallTimeoutError} of `attemptTimeoutMs`; default `retry`. */
  name?: string;
}

/**
 * Calls `fn` until it resolves, retrying retryable failures with exponential backoff and full
 * jitter ({@link fullJitterDelay}), at most `policy.maxAttempts` times in all and only while
 * `policy.budget` (if any) allows. Only retry work that is safe to repeat: see
 * {@link isIdempotentRequest}.
 *
 * @param fn - one attempt; receives its 1-based attempt number and an `AbortSignal` aborted by
 *   `options.signal` or at `options.attemptTimeoutMs` (a fresh one per attempt with a timeout,
 *   never one left aborted by an earlier attempt), or `undefined` when neither is given, as then
 *   nothing can abort an attempt (and Node 20's `AbortSignal` costs microseconds to make).
 * @returns what the first successful attempt resolved to.
 * @throws the last attempt's error when it is not retryable, attempts are used up or the budget
 *   refused a retry; {@link CallTimeoutError} for an attempt that outlived `attemptTimeoutMs`; an
 *   `AbortError` when `options.signal` aborts during a backoff.
 */
export async function withRetry<T>(fn: RetriedAttempt<T>, policy: RetryPolicy, options: RetryOptions = {}): Promise<T> {
  const isRetryable = options.isRetryable ?? ((error: unknown) => !(error instanceof BreakerOpenError));
  policy.budget?.recordRequest();
  for (let attempt = 1; ; attempt++) {
    try {
      return await runAttempt(fn, attempt, options);
    } catch (error) {
      if (attempt >= policy.maxAttempts || !isRetryable(error)) throw error;
      if (policy.budget !== undefined && !policy.budget.tryRetry()) throw error;
      const delayMs = fullJitterDelay(attempt, policy, options.random);
      options.onRetry?.({ attempt, delayMs, error });
      await delay(delayMs, undefined, { signal: options.signal });
    }
  }
}

/** One attempt with its own signal and timer when `attemptTimeoutMs` is set. */
function runAttempt<T>(fn: RetriedAttempt<T>, attempt: number, options: RetryOptions): Promise<T> {
  const { attemptTimeoutMs, signal: outer } = options;
  // Without a timer nothing aborts one attempt alone, so the caller's signal (if any) serves as is.
  if (attemptTimeoutMs === undefined) return fn(attempt, outer);
  const controller = new AbortController();
  const signal = outer === undefined ? controller.signal : AbortSignal.any([controller.signal, outer]);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new CallTimeoutError(options.name ?? 'retry', attemptTimeoutMs);
      reject(error);
      controller.abort(error);
    }, attemptTimeoutMs);
    fn(attempt, signal).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * Whether an HTTP request may be sent again after a failure that may have reached the upstream
 * (a timeout, a reset connection): its method is idempotent (RFC 9110 §9.2.2: GET, HEAD,
 * OPTIONS, TRACE, PUT, DELETE), or it carries an `Idempotency-Key` header, by which the upstream
 * recognises a repeat. A POST without a key is never safe: it could create the order twice.
 *
 * @param headers - header names in any case.
 */
export function isIdempotentRequest(method: string, headers: Readonly<Record<string, unknown>> = {}): boolean {
  if (idempotentMethods.has(method.toUpperCase())) return true;
  return Object.keys(headers).some((name) => name.toLowerCase() === 'idempotency-key');
}
