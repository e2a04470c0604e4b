import { Counter, Gauge, type Registry } from 'prom-client';
import type { BreakerState } from './breaker.js';

/** How one call through a breaker ended, the `outcome` label of `circuit_breaker_calls_total`. */
export type CallOutcome = 'success' | 'failure' | 'timeout' | 'rejected';

/** What became of a wanted retry, the `outcome` label of `retries_total`. */
export type RetryOutcome = 'retried' | 'budget_exhausted';

const stateValue: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/**
 * Each bulkhead's in-flight count, per Prometheus registry, read when metrics are scraped rather
 * than set on every call; shared by every {@link BreakerMetrics} on that registry.
 */
const inFlightReaders = new WeakMap<Registry, Map<string, () => number>>();

function inFlightReadersOf(registry: Registry): Map<string, () => number> {
  let readers = inFlightReaders.get(registry);
  if (readers === undefined) {
    readers = new Map();
    inFlightReaders.set(registry, readers);
  }
  return readers;
}

/** Returns the metric already registered under `name`, or registers the one `create` builds. */
function shared<M>(registry: Registry, name: string, create: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create();
}

/**
 * The resilience metrics (breakers, bulkheads, retries) on one Prometheus registry. Several
 * {@link BreakerRegistry}s in one process may share a registry, so existing metrics are reused
 * rather than registered twice.
 */
export class BreakerMetrics {
  private readonly state: Gauge<'breaker'>;
  private readonly calls: Counter<'breaker' | 'outcome'>;
  private readonly inFlight: Gauge<'bulkhead'>;
  private readonly bulkheadRejections: Counter<'bulkhead'>;
  private readonly retries: Counter<'upstream' | 'outcome'>;
  private readonly inFlightReaders: Map<string, () => number>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.state = shared(
      registry,
      'circuit_breaker_state',
      () => new Gauge({ name: 'circuit_breaker_state', help: 'State of each circuit breaker: 0 closed, 1 half_open, 2 open.', labelNames: ['breaker'], registers }),
    );
    this.calls = shared(
      registry,
      'circuit_breaker_calls_total',
      () =>
        new Counter({
          name: 'circuit_breaker_calls_total',
          help: 'Calls through each circuit breaker by outcome: success, failure, timeout, rejected (while open).',
          labelNames: ['breaker', 'outcome'],
          registers,
        }),
    );
    const readers = inFlightReadersOf(registry);
    this.inFlightReaders = readers;
    this.inFlight = shared(
      registry,
      'bulkhead_in_flight',
      () =>
        new Gauge({
          name: 'bulkhead_in_flight',
          help: 'Calls currently holding a slot of each bulkhead.',
          labelNames: ['bulkhead'],
          registers,
          collect() {
            for (const [bulkhead, read] of readers) this.set({ bulkhead }, read());
          },
        }),
    );
    this.bulkheadRejections = shared(
      registry,
      'bulkhead_rejections_total',
      () => new Counter({ name: 'bulkhead_rejections_total', help: 'Calls each bulkhead refused because all its slots were taken.', labelNames: ['bulkhead'], registers }),
    );
    this.retries = shared(
      registry,
      'retries_total',
      () =>
        new Counter({
          name: 'retries_total',
          help: 'Retries per upstream by outcome: retried, or budget_exhausted (the retry budget refused it).',
          labelNames: ['upstream', 'outcome'],
          registers,
        }),
    );
  }

  setState(breaker: string, state: BreakerState): void {
    this.state.set({ breaker }, stateValue[state]);
  }

  countCall(breaker: string, outcome: CallOutcome): void {
    this.calls.inc({ breaker, outcome });
  }

  /** Reports `read()` as the bulkhead's in-flight count at every scrape. */
  trackInFlight(bulkhead: string, read: () => number): void {
    this.inFlightReaders.set(bulkhead, read);
    this.inFlight.set({ bulkhead }, read());
  }

  countBulkheadRejection(bulkhead: string): void {
    this.bulkheadRejections.inc({ bulkhead });
  }

  countRetry(upstream: string, outcome: RetryOutcome): void {
    this.retries.inc({ upstream, outcome });
  }
}
