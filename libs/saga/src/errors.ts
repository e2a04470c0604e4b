/**
 * Thrown by an action for a failure that another attempt cannot fix (e.g. a 400 from the called
 * service): the step gives up at once instead of spending its retry policy.
 */
export class NonRetryableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}

/** A remote action that did not settle within its `timeoutMs`; a transient failure, so retried. */
export class StepTimeoutError extends Error {
  constructor(
    readonly step: string,
    readonly timeoutMs: number,
  ) {
    super(`step ${step} timed out after ${timeoutMs} ms`);
    this.name = 'StepTimeoutError';
  }
}

/** No saga instance has this id. */
export class SagaNotFoundError extends Error {
  constructor(readonly sagaId: string) {
    super(`No saga with id ${sagaId}`);
    this.name = 'SagaNotFoundError';
  }
}

/** An operator asked to retry a saga that is not parked `COMPENSATION_FAILED` or `FAILED`, or whose definition this process does not know. */
export class SagaNotRetryableError extends Error {
  constructor(
    readonly sagaId: string,
    reason: string,
  ) {
    super(`Saga ${sagaId} cannot be retried: ${reason}`);
    this.name = 'SagaNotRetryableError';
  }
}
