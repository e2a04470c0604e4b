/**
 * When a breaker opens and how it recovers (seed 001's circuit breaker: closed, open, half-open,
 * with a failure threshold and a reset timeout), in opossum's rate-based terms.
 *
 * The breaker opens when, within the last `rollingCountTimeoutMs`, at least `volumeThreshold`
 * calls were made and more than `errorThresholdPercentage` of them failed (errors and timeouts).
 * After `resetTimeoutMs` it turns half-open and lets one trial call through: success closes it,
 * failure opens it again.
 */
export interface BreakerPolicy {
  /** Each call is aborted and fails with `CallTimeoutError` after this many ms. */
  timeoutMs: number;
  /** Failure rate, in percent (0-100), above which the breaker opens. */
  errorThresholdPercentage: number;
  /**
   * Minimum number of calls in the rolling window before the breaker may open at all, so that a
   * single early failure (100 % of one call) does not open it: opossum's default of 0 does.
   */
  volumeThreshold: number;
  /** How long the breaker stays open before letting a half-open trial call through, in ms. */
  resetTimeoutMs: number;
  /** Length of the rolling statistics window, in ms. */
  rollingCountTimeoutMs: number;
}

/**
 * Defaults for service-to-service HTTP calls: 10 s per call; opens when more than half of at
 * least 5 calls in 10 s failed; tries again after 10 s.
 */
export const defaultBreakerPolicy: Readonly<BreakerPolicy> = Object.freeze({
  timeoutMs: 10_000,
  errorThresholdPercentage: 50,
  volumeThreshold: 5,
  resetTimeoutMs: 10_000,
  rollingCountTimeoutMs: 10_000,
});

/**
 * Seed 001's `NewCircuitBreaker(threshold, resetTimeout)` expressed as a {@link BreakerPolicy}.
 *
 * The seed counts failures and opens at `threshold`. Opossum counts rates, so this sets
 * `volumeThreshold = failures` and `errorThresholdPercentage = (failures - 1) / failures * 100`.
 * Together they guarantee the breaker never opens before `failures` calls in the window have
 * failed, and `failures` failures in a row open it unless successes in the same window outnumber
 * them enough to keep the rate down (a rate-based breaker forgives old failures that way instead
 * of resetting a counter on each success).
 *
 * @example fromThreshold(3, 30_000) // NewCircuitBreaker(3, time.Second * 30)
 * @param failures - the seed's failure threshold, an integer ≥ 1.
 * @param resetTimeoutMs - the seed's reset timeout, in ms.
 * @param base - where the other fields (timeout, window) come from.
 * @throws {RangeError} when `failures` is not an integer ≥ 1 or `resetTimeoutMs` is not positive.
 */
export function fromThreshold(failures: number, resetTimeoutMs: number, base: BreakerPolicy = defaultBreakerPolicy): BreakerPolicy {
  if (!Number.isInteger(failures) || failures < 1) throw new RangeError(`failures must be an integer >= 1, got ${failures}`);
  return validatePolicy({
    ...base,
    volumeThreshold: failures,
    errorThresholdPercentage: ((failures - 1) / failures) * 100,
    resetTimeoutMs,
  });
}

/**
 * Checks that a policy makes sense, so a typo in configuration fails at start-up rather than as a
 * breaker that never (or always) opens.
 *
 * @returns the same policy.
 * @throws {RangeError} naming the first field out of range.
 */
export function validatePolicy(policy: BreakerPolicy): BreakerPolicy {
  const positive = ['timeoutMs', 'resetTimeoutMs', 'rollingCountTimeoutMs'] as const;
  for (const field of positive) {
    if (!(policy[field] > 0)) throw new RangeError(`${field} must be > 0, got ${policy[field]}`);
  }
  if (!Number.isInteger(policy.volumeThreshold) || policy.volumeThreshold < 0) {
    throw new RangeError(`volumeThreshold must be an integer >= 0, got ${policy.volumeThreshold}`);
  }
  if (!(policy.errorThresholdPercentage >= 0 && policy.errorThresholdPercentage <= 100)) {
    throw new RangeError(`errorThresholdPercentage must be within 0..100, got ${policy.errorThresholdPercentage}`);
  }
  return policy;
}
