export {
  BreakerRegistry,
  type Breaker,
  type CallController,
  type BreakerOptions,
  type FireOptions,
  type BreakerRegistryOptions,
  type BreakerState,
  type GuardedCall,
} from './breaker.js';
export { type CallOutcome, type RetryOutcome } from './breaker.metrics.js';
export { Bulkhead, type BulkheadObserver, type ReleaseSlot } from './bulkhead.js';
export { BreakerOpenError, BulkheadRejectedError, CallTimeoutError } from './errors.js';
export { defaultBreakerPolicy, fromThreshold, validatePolicy, type BreakerPolicy } from './policy.js';
export { callResiliently, withFallback, type ResilientCallOptions } from './resilient-call.js';
export { defaultRetryBudgetPolicy, RetryBudget, type RetryBudgetObserver, type RetryBudgetPolicy } from './retry-budget.js';
export { defaultRetryPolicy, fullJitterDelay, isIdempotentRequest, withRetry, type RetriedAttempt, type RetryOptions, type RetryPolicy } from './retry.js';
