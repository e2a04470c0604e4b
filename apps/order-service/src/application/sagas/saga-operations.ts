import type { SagaOrchestrator, SagaQuery, SagaStatus, SagaSummary, SagaView } from '@msr/saga';

/**
 * What operators do with the sagas of this service (the PlaceOrder sagas): look one up with its
 * step log and timeline, list them by status, type and age (e.g. stuck ones), and retry one parked
 * `COMPENSATION_FAILED` or `FAILED` once its cause is fixed.
 */
export class SagaOperations {
  constructor(private readonly orchestrator: SagaOrchestrator) {}

  /** A saga with its step log and timeline, or undefined. */
  get(sagaId: string): Promise<SagaView | undefined> {
    return this.orchestrator.get(sagaId);
  }

  /** Sagas matching `query`, oldest first. */
  list(query: SagaQuery): Promise<SagaSummary[]> {
    return this.orchestrator.list(query);
  }

  /**
   * Retries a parked saga.
   *
   * @returns its status once the retry is recorded.
   * @throws `SagaNotFoundError`, `SagaNotRetryableError` (from `@msr/saga`).
   */
  retry(sagaId: string): Promise<SagaStatus> {
    return this.orchestrator.retry(sagaId);
  }
}
