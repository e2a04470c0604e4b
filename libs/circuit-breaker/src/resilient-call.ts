import type { Breaker } from './breaker.js';
import type { Bulkhead } from './bulkhead.js';
import { withRetry, type RetriedAttempt, type RetryOptions, type RetryPolicy } from './retry.js';

/** The layers of {@link callResiliently}; each is optional. */
export interface ResilientCallOptions<T> {
  /** Outermost: refuses the call at once (`BulkheadRejectedError`) when its slots are taken. */
  bulkhead?: Bulkhead;
  /**
   * Guards the outcome after retries, e.g. a breaker per upstream service around retries that
   * each go through a per-instance breaker: it opens only when retrying no longer helps. Its
   * timeout bounds all attempts together; its signal aborts the attempt in flight.
   */
  breaker?: Breaker;
  /** Retries with backoff (and budget); without it the call is made once. */
  retry?: RetryPolicy;
  /** `isRetryable`, `onRetry`, `attemptTimeoutMs`... of the retries (the signal is the breaker's). */
  retryOptions?: Omit<RetryOptions, 'signal'>;
  /**
   * What to answer instead when everything failed, including an open breaker or a full
   * bulkhead: receives the final error. Without it the error is thrown.
   */
  fallback?: (error: unknown) => T | Promise<T>;
}

/**
 * Runs `attempt` through the usual resilience layers, outermost first: fallback, bulkhead,
 * breaker, retry (the order of Polly's and resilience4j's pipelines): a full bulkhead or an open
 * breaker answers in microseconds and is not retried; each attempt gets the breaker's signal (or
 * its own, with `retryOptions.attemptTimeoutMs`), none when no layer can abort it; the fallback
 * sees whatever finally failed.
 *
 * @example
 * const user = await callResiliently((attempt, signal) => fetchUser(id, signal), {
 *   bulkhead: breakers.bulkhead('user-service', 50),
 *   breaker: breakers.get('user-service'),
 *   retry: { ...defaultRetryPolicy, budget: breakers.retryBudget('user-service') },
 *   fallback: () => cachedUser(id),
 * });
 * @throws whatever the innermost failing layer threw, unless `fallback` is given.
 */
export async function callResiliently<T>(attempt: RetriedAttempt<T>, options: ResilientCallOptions<T>): Promise<T> {
  const { bulkhead, breaker, retry, retryOptions, fallback } = options;
  const attempts = (signal: AbortSignal | undefined): Promise<T> =>
    retry === undefined ? attempt(1, signal) : withRetry(attempt, retry, { ...retryOptions, signal });
  const guarded = (): Promise<T> => (breaker === undefined ? attempts(undefined) : breaker.fire((signal) => attempts(signal)));
  const bounded = (): Promise<T> => (bulkhead === undefined ? guarded() : bulkhead.run(guarded));
  return fallback === undefined ? bounded() : withFallback(bounded, fallback);
}

/**
 * Runs `call`; when it fails, answers `fallback(error)` instead (a cached value, a default, a
 * degraded answer). The fallback's own failure is thrown.
 */
export async function withFallback<T>(call: () => Promise<T>, fallback: (error: unknown) => T | Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    return await fallback(error);
  }
}
