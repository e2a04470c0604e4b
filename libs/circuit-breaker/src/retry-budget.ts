import type { RetryOutcome } from './breaker.metrics.js';

/**
 * How many retries a {@link RetryBudget} allows (the retry budget of Finagle and gRPC): within the
 * rolling window, retries may reach `minRetriesPerSecond` per second plus `ratio` of the first
 * attempts. When an upstream fails everything, retries then add at most `ratio` extra load
 * instead of multiplying it by the attempt count, which is what turns a brown-out into an outage.
 */
export interface RetryBudgetPolicy {
  /** Retries allowed per first attempt in the window, e.g. 0.2: at most 20 % extra calls. */
  ratio: number;
  /** Retries always allowed per second, so a client with little traffic can still retry. */
  minRetriesPerSecond: number;
  /** Length of the rolling window that requests and retries are counted over, in ms (≥ 1 000). */
  windowMs: number;
}

/** Retries may add 20 % to the calls of the last 10 s, plus 10 retries a second. */
export const defaultRetryBudgetPolicy: Readonly<RetryBudgetPolicy> = Object.freeze({ ratio: 0.2, minRetriesPerSecond: 10, windowMs: 10_000 });

/** Hooks a {@link RetryBudget} reports to (metrics); all optional. */
export interface RetryBudgetObserver {
  /** Called on each wanted retry: `retried` when allowed, `budget_exhausted` when refused. */
  onRetry?: (outcome: RetryOutcome) => void;
}

const bucketCount = 10;

/**
 * A shared allowance of retries for all calls to one upstream, spent by `withRetry` when the
 * retry policy carries it (`{ ...policy, budget }`): every first attempt counts as a request,
 * every retry must be allowed by {@link tryRetry}. Counts are kept in ten buckets over the window.
 */
export class RetryBudget {
  readonly policy: Readonly<RetryBudgetPolicy>;
  private readonly bucketMs: number;
  private readonly requests = new Array<number>(bucketCount).fill(0);
  private readonly retries = new Array<number>(bucketCount).fill(0);
  /** The bucket number (time / bucketMs) the counters were last advanced to. */
  private current: number;

  /**
   * @param name - the upstream it budgets for; the `upstream` label of `retries_total`.
   * @param now - the clock, in ms; `Date.now` unless testing.
   * @throws {RangeError} when a policy field is out of range.
   */
  constructor(
    readonly name: string,
    policy: Partial<RetryBudgetPolicy> = {},
    private readonly observer: RetryBudgetObserver = {},
    private readonly now: () => number = Date.now,
  ) {
    const merged = { ...defaultRetryBudgetPolicy, ...policy };
    if (!(merged.ratio >= 0)) throw new RangeError(`ratio must be >= 0, got ${merged.ratio}`);
    if (!(merged.minRetriesPerSecond >= 0)) throw new RangeError(`minRetriesPerSecond must be >= 0, got ${merged.minRetriesPerSecond}`);
    if (!(merged.windowMs >= 1_000)) throw new RangeError(`windowMs must be >= 1000, got ${merged.windowMs}`);
    this.policy = Object.freeze(merged);
    this.bucketMs = merged.windowMs / bucketCount;
    this.current = Math.floor(this.now() / this.bucketMs);
  }

  /** Counts one first attempt (which is never refused). */
  recordRequest(): void {
    this.requests[this.advance()]! += 1;
  }

  /**
   * Asks for one retry: allowed (and counted) while retries in the window stay within the
   * budget, refused otherwise. Reports the outcome to the observer either way.
   */
  tryRetry(): boolean {
    const bucket = this.advance();
    const allowance = this.policy.minRetriesPerSecond * (this.policy.windowMs / 1_000) + this.policy.ratio * sum(this.requests);
    const allowed = sum(this.retries) < allowance;
    if (allowed) this.retries[bucket]! += 1;
    this.observer.onRetry?.(allowed ? 'retried' : 'budget_exhausted');
    return allowed;
  }

  /** Zeroes the buckets that fell out of the window; returns the index of the current one. */
  private advance(): number {
    const now = Math.floor(this.now() / this.bucketMs);
    for (let step = this.current + 1; step <= now && step <= this.current + bucketCount; step++) {
      this.requests[step % bucketCount] = 0;
      this.retries[step % bucketCount] = 0;
    }
    this.current = Math.max(this.current, now);
    return this.current % bucketCount;
  }
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
