import { Counter, Gauge, type Registry } from 'prom-client';
import type { BreakerState } from './breaker.js';

/** How one call through a breaker ended, the `outcome` label of `circuit_breaker_calls_total`. */
export type CallOutcome = 'success' | 'failure' | 'timeout' | 'rejected';

const callOutcomes: readonly CallOutcome[] = ['success', 'failure', 'timeout', 'rejected'];

/** Calls through one breaker so far, by outcome; the breaker adds to it, a scrape reads it. */
export type CallCounts = Record<CallOutcome, number>;

/** One breaker's counts, and how much of them the Prometheus counter has been given. */
interface CallTally {
  counts: CallCounts;
  reported: CallCounts;
}

/**
 * Each breaker's call counts, per Prometheus registry. Counted in plain fields on every call and
 * added to `circuit_breaker_calls_total` when metrics are scraped: a labelled `inc` per call
 * would build and look up the label key twice per proxied request.
 */
const callTallies = new WeakMap<Registry, Map<string, CallTally>>();

function zeroCounts(): CallCounts {
  return { success: 0, failure: 0, timeout: 0, rejected: 0 };
}

/** What became of a wanted retry, the `outcome` label of `retries_total`. */
export type RetryOutcome = 'retried' | 'budget_exhausted';

const stateValue: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/**
 * Each bulkhead's in-flight count, per Prometheus registry, read when metrics are scraped rather
 * than set on every call; shared by every {@link BreakerMetrics} on that registry.
 */
const inFlightReaders = new WeakMap<Registry, Map<string, () => number>>();

/** The entries `registry` has in `byRegistry`, made on first use. */
function entriesOf<V>(byRegistry: WeakMap<Registry, Map<string, V>>, registry: Registry): Map<string, V> {
  let entries = byRegistry.get(registry);
  if (entries === undefined) {
    entries = new Map();
    byRegistry.set(registry, entries);
  }
  return entries;
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
  private readonly callTallies: Map<string, CallTally>;
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
    const tallies = entriesOf(callTallies, registry);
    this.callTallies = tallies;
    this.calls = shared(
      registry,
      'circuit_breaker_calls_total',
      () =>
        new Counter({
          name: 'circuit_breaker_calls_total',
          help: 'Calls through each circuit breaker by outcome: success, failure, timeout, rejected (while open).',
          labelNames: ['breaker', 'outcome'],
          registers,
          collect() {
            for (const [breaker, { counts, reported }] of tallies) {
              for (const outcome of callOutcomes) {
                const added = counts[outcome] - reported[outcome];
                if (added > 0) this.inc({ breaker, outcome }, added);
                reported[outcome] = counts[outcome];
              }
            }
          },
        }),
    );
    const readers = entriesOf(inFlightReaders, registry);
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

  /**
   * The call counts of `breaker`, for it to add to on every call; reported in
   * `circuit_breaker_calls_total` at each scrape (an outcome from its first occurrence on). Asked
   * again, gives the same counts.
   */
  callCounts(breaker: string): CallCounts {
    let tally = this.callTallies.get(breaker);
    if (tally === undefined) {
      tally = { counts: zeroCounts(), reported: zeroCounts() };
      this.callTallies.set(breaker, tally);
    }
    return tally.counts;
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
