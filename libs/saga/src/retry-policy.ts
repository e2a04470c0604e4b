import { defaultRetryPolicy, type RetryPolicy } from '@msr/circuit-breaker';

/**
 * How often a saga action is attempted before the saga gives up on it, and how long it waits
 * between attempts: `@msr/circuit-breaker`'s `RetryPolicy` (exponential backoff with full jitter,
 * `fullJitterDelay`). Saga retries are durable: the next attempt's time is stored in the saga
 * (`wake_at`), so a restart does not lose it.
 */
export type { RetryPolicy };

/** 3 attempts, 100 ms then 200 ms caps before jitter, never more than 2 s (shared with outbound calls). */
export { defaultRetryPolicy };

/**
 * Checks a retry policy.
 *
 * @returns the same policy.
 * @throws {RangeError} naming the first field out of range.
 */
export function validateRetryPolicy(policy: RetryPolicy): RetryPolicy {
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) throw new RangeError(`maxAttempts must be an integer >= 1, got ${policy.maxAttempts}`);
  if (!(policy.baseDelayMs >= 0)) throw new RangeError(`baseDelayMs must be >= 0, got ${policy.baseDelayMs}`);
  if (!(policy.maxDelayMs >= policy.baseDelayMs)) throw new RangeError(`maxDelayMs must be >= baseDelayMs, got ${policy.maxDelayMs}`);
  return policy;
}
