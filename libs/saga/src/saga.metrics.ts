import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SagaRepository } from './saga.repository.js';
import type { Queryable } from '@msr/service-defaults';
import type { SagaStatus } from './state-machine.js';

/** Where the gauges read the saga tables at scrape time. */
export interface SagaGaugeSource {
  db: Queryable;
  repository: SagaRepository;
  /** A saga not final and unchanged for this long counts as stuck, in ms. */
  stuckAfterMs: number;
}

/**
 * Prometheus metrics of the orchestrator, registered once per registry (a second orchestrator on
 * the same registry shares them):
 * - `saga_started_total{saga}`, `saga_finished_total{saga,status}` (a `COMPENSATION_FAILED`
 *   there is what to alert on), `saga_duration_seconds{saga,status}` (start to final status);
 * - read from the database at scrape time: `saga_instances{saga,status}` (sagas by status) and
 *   `saga_stuck{saga}` (parked, or not final and unchanged for `stuckAfterMs`);
 * - `saga_replies_ignored_total{reason}` (late, duplicated or unknown replies).
 */
export class SagaMetrics {
  private readonly started: Counter<'saga'>;
  private readonly finished: Counter<'saga' | 'status'>;
  private readonly duration: Histogram<'saga' | 'status'>;
  private readonly ignored: Counter<'reason'>;

  constructor(registry: Registry, source: SagaGaugeSource) {
    this.started = existing<Counter<'saga'>>(registry, 'saga_started_total') ?? new Counter({ name: 'saga_started_total', help: 'Sagas started.', labelNames: ['saga'], registers: [registry] });
    this.finished =
      existing<Counter<'saga' | 'status'>>(registry, 'saga_finished_total') ??
      new Counter({
        name: 'saga_finished_total',
        help: 'Sagas that reached a final status (COMPLETED, COMPENSATED, COMPENSATION_FAILED, FAILED).',
        labelNames: ['saga', 'status'],
        registers: [registry],
      });
    this.duration =
      existing<Histogram<'saga' | 'status'>>(registry, 'saga_duration_seconds') ??
      new Histogram({
        name: 'saga_duration_seconds',
        help: 'Time from a saga start to its final status, in seconds.',
        labelNames: ['saga', 'status'],
        buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
        registers: [registry],
      });
    this.ignored =
      existing<Counter<'reason'>>(registry, 'saga_replies_ignored_total') ??
      new Counter({ name: 'saga_replies_ignored_total', help: 'Replies no saga awaited (late, duplicated or unknown), by reason.', labelNames: ['reason'], registers: [registry] });
    if (!existing(registry, 'saga_instances')) {
      new Gauge({
        name: 'saga_instances',
        help: 'Saga instances by definition and status.',
        labelNames: ['saga', 'status'],
        registers: [registry],
        async collect() {
          try {
            const counts = await source.repository.countByStatus(source.db);
            this.reset();
            for (const { saga, status, count } of counts) this.set({ saga, status }, count);
          } catch {
            // The database is unreachable (or the pool closed during shutdown): keep the last values.
          }
        },
      });
    }
    if (!existing(registry, 'saga_stuck')) {
      new Gauge({
        name: 'saga_stuck',
        help: `Sagas parked, or not final and unchanged for ${source.stuckAfterMs / 1000} s: they need a look.`,
        labelNames: ['saga'],
        registers: [registry],
        async collect() {
          try {
            const counts = await source.repository.countStuck(source.db, new Date(Date.now() - source.stuckAfterMs));
            this.reset();
            for (const { saga, count } of counts) this.set({ saga }, count);
          } catch {
            // As above: keep the last values.
          }
        },
      });
    }
  }

  /** Counts a started saga. */
  recordStart(saga: string): void {
    this.started.inc({ saga });
  }

  /** Counts a finished saga and observes its duration in ms. */
  recordFinish(saga: string, status: SagaStatus, durationMs: number): void {
    this.finished.inc({ saga, status });
    this.duration.observe({ saga, status }, durationMs / 1000);
  }

  /** Counts an ignored reply. */
  recordIgnoredReply(reason: string): void {
    this.ignored.inc({ reason });
  }
}

function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}
