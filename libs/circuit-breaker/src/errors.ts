/**
 * Thrown by `Breaker.fire` when the breaker is open (or half-open with its one trial call
 * already in flight): the call was not made, so the caller learns of it in microseconds instead
 * of waiting for a sick upstream. Maps opossum's `EOPENBREAKER`.
 *
 * Nothing was sent, so trying another instance is always safe, even for non-idempotent calls.
 */
export class BreakerOpenError extends Error {
  /** Stable code for error mappers. */
  readonly code = 'BREAKER.OPEN';

  constructor(
    /** The name of the breaker that refused the call, e.g. `user-service@10.0.0.5:3001`. */
    readonly breakerName: string,
  ) {
    super(`Circuit breaker ${breakerName} is open`);
    this.name = 'BreakerOpenError';
  }
}

/**
 * Thrown by `Breaker.fire` when a call did not settle within the breaker's `timeoutMs`. The
 * call's `AbortSignal` was aborted with this error as its reason, so a cooperating call (undici,
 * fetch, pg) stops its work too. Counts as a failure of the breaker.
 */
export class CallTimeoutError extends Error {
  /** Stable code for error mappers. */
  readonly code = 'BREAKER.TIMEOUT';

  constructor(
    /** The name of the breaker whose call timed out. */
    readonly breakerName: string,
    /** The timeout that elapsed, in ms. */
    readonly timeoutMs: number,
  ) {
    super(`Call through ${breakerName} timed out after ${timeoutMs} ms`);
    this.name = 'CallTimeoutError';
  }
}

/**
 * Thrown by `Bulkhead.run` (and answered by `tryAcquire` returning undefined) when every slot of
 * the bulkhead is taken: the call was not made. Rejecting at once instead of queueing keeps one
 * slow upstream from tying up every connection and request of the caller (the bulkhead pattern).
 */
export class BulkheadRejectedError extends Error {
  /** Stable code for error mappers. */
  readonly code = 'BULKHEAD.FULL';

  constructor(
    /** The bulkhead that refused, e.g. `order-service`. */
    readonly bulkheadName: string,
    /** Its bound on concurrent calls. */
    readonly maxConcurrent: number,
  ) {
    super(`Bulkhead ${bulkheadName} is full: ${maxConcurrent} calls already in flight`);
    this.name = 'BulkheadRejectedError';
  }
}
