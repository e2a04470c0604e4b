import { CallTimeoutError } from '@msr/circuit-breaker';
import type { Logger } from '@msr/service-defaults';
import { Counter, Gauge, type Registry } from 'prom-client';
import { breakerNameFor, type ServiceInstance } from './service-instance.js';

/**
 * How a call to an instance failed, as far as ejection cares:
 * - `connect_refused`: nothing listens (or the host is unreachable): the request was never sent;
 * - `connection_reset`: the connection broke (reset, closed mid-answer);
 * - `server_error`: a 5xx answer (or one that is not valid HTTP);
 * - `timeout`: no answer in time.
 */
export type OutlierFailure = 'connect_refused' | 'connection_reset' | 'server_error' | 'timeout';

/** The numbers of passive ejection (Envoy's outlier detection, with its defaults where it has them). */
export interface OutlierDetectionPolicy {
  /** Consecutive 5xx answers or timeouts that eject an instance (Envoy `consecutive_5xx`: 5). Refused and reset connections eject at once. */
  consecutiveFailures: number;
  /** Length of an instance's first ejection, in ms; the n-th lasts n times as long (Envoy `base_ejection_time`: 30 s). */
  baseEjectionMs: number;
  /** Longest ejection, in ms (Envoy `max_ejection_time`: 300 s); also the quiet time that takes one ejection off an instance's count. */
  maxEjectionMs: number;
  /** Largest share of a service's instances ejected at once, in percent (Envoy `max_ejection_percent`, here 50: never more than half). */
  maxEjectionPercent: number;
}

/** The default {@link OutlierDetectionPolicy}. */
export const defaultOutlierDetectionPolicy: Readonly<OutlierDetectionPolicy> = Object.freeze({
  consecutiveFailures: 5,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectionPercent: 50,
});

/** What identifies an instance to the detector: its service and endpoint. */
export type OutlierInstance = Pick<ServiceInstance, 'id' | 'name' | 'address' | 'port'>;

/** What {@link OutlierDetector} needs. */
export interface OutlierDetectorOptions {
  logger: Logger;
  /** Overrides of {@link defaultOutlierDetectionPolicy}. */
  policy?: Partial<OutlierDetectionPolicy>;
  /**
   * When given, registers `discovery_outlier_ejections_total{service_name, failure}` and
   * `discovery_outlier_ejected_instances{service_name}` (shared when several detectors use it).
   */
  metricsRegistry?: Registry;
  /** Clock in ms; `Date.now` unless testing. */
  now?: () => number;
}

interface Outlier {
  instance: OutlierInstance;
  consecutiveFailures: number;
  ejections: number;
  ejectedUntil: number | undefined;
  lastReturnedAt: number | undefined;
}

const refusedCodes = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN']);
const resetCodes = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const timeoutCodes = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * Classifies a failed call's error (or any error in its `cause` chain) for {@link OutlierDetector.recordFailure}:
 * undefined when it says nothing about the instance (e.g. an open breaker, the caller aborting).
 */
export function outlierFailureOf(error: unknown): OutlierFailure | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    if (current instanceof CallTimeoutError) return 'timeout';
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (refusedCodes.has(code)) return 'connect_refused';
      if (resetCodes.has(code)) return 'connection_reset';
      if (timeoutCodes.has(code)) return 'timeout';
    }
    current = current.cause;
  }
  return undefined;
}

/**
 * Passive ejection (outlier detection, as Envoy does it): callers report how each call to an
 * instance went, and an instance that refuses or resets a connection, or fails
 * `consecutiveFailures` times in a row with a 5xx or a timeout, is taken out of rotation for an
 * ejection time that grows with each ejection (base × n, capped). Never more than
 * `maxEjectionPercent` of a service's instances are out at once, so a service-wide problem
 * cannot eject everything. An ejected instance returns by itself when its time is up; one
 * failure then ejects it again for longer.
 *
 * Shared by `ServiceHttpClient` and the gateway's proxy: both call {@link available} with the
 * discovered instances before picking one, and {@link recordSuccess} / {@link recordFailure}
 * after each attempt. Pure bookkeeping: it never calls the network.
 */
export class OutlierDetector {
  private readonly policy: OutlierDetectionPolicy;
  private readonly outliers = new Map<string, Outlier>();
  /** Each service's instance keys as last seen by {@link available}, with the list they came from. */
  private readonly listed = new Map<string, ListedInstances>();
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly ejectionsTotal: Counter<'service_name' | 'failure'> | undefined;
  private readonly ejectedGauge: Gauge<'service_name'> | undefined;

  constructor(options: OutlierDetectorOptions) {
    this.policy = { ...defaultOutlierDetectionPolicy, ...options.policy };
    validatePolicy(this.policy);
    this.logger = options.logger.child({ component: 'outlier-detector' });
    this.now = options.now ?? Date.now;
    const metrics = options.metricsRegistry;
    if (metrics !== undefined) {
      this.ejectionsTotal =
        (metrics.getSingleMetric('discovery_outlier_ejections_total') as Counter<'service_name' | 'failure'> | undefined) ??
        new Counter({
          name: 'discovery_outlier_ejections_total',
          help: 'Instances ejected by passive outlier detection, by service and the failure that ejected them.',
          labelNames: ['service_name', 'failure'],
          registers: [metrics],
        });
      this.ejectedGauge =
        (metrics.getSingleMetric('discovery_outlier_ejected_instances') as Gauge<'service_name'> | undefined) ??
        new Gauge({
          name: 'discovery_outlier_ejected_instances',
          help: 'Instances currently ejected by passive outlier detection, by service.',
          labelNames: ['service_name'],
          registers: [metrics],
        });
    }
  }

  /**
   * The instances to choose from: `instances` without the ejected ones. Ejections that ran out
   * end here. Should the list have shrunk so that more than the allowed share is ejected, the
   * ones closest to returning are offered again, so the answer is never empty when `instances`
   * is not.
   */
  available<T extends OutlierInstance>(serviceName: string, instances: readonly T[]): T[] {
    const now = this.now();
    // Discovery hands out the same list until it changes: its keys are collected once per list, not per call.
    if (this.listed.get(serviceName)?.from !== instances) this.listed.set(serviceName, { from: instances, keys: new Set(instances.map(keyOf)) });
    const ready: T[] = [];
    const ejected: Array<{ instance: T; until: number }> = [];
    for (const instance of instances) {
      const outlier = this.outliers.get(keyOf(instance));
      if (outlier?.ejectedUntil !== undefined && now >= outlier.ejectedUntil) this.restore(outlier, now);
      if (outlier?.ejectedUntil === undefined) ready.push(instance);
      else ejected.push({ instance, until: outlier.ejectedUntil });
    }
    const excess = ejected.length - this.allowedEjections(instances.length);
    if (excess > 0) {
      ejected.sort((a, b) => a.until - b.until);
      for (const { instance } of ejected.slice(0, excess)) ready.push(instance);
    }
    this.prune(serviceName, now);
    return ready;
  }

  /** Whether `instance` is ejected right now. */
  isEjected(instance: OutlierInstance): boolean {
    const until = this.outliers.get(keyOf(instance))?.ejectedUntil;
    return until !== undefined && this.now() < until;
  }

  /** A call to `instance` got an answer below 500: its run of failures ends. */
  recordSuccess(instance: OutlierInstance): void {
    const outlier = this.outliers.get(keyOf(instance));
    if (outlier !== undefined) outlier.consecutiveFailures = 0;
  }

  /**
   * A call to `instance` failed. Ejects it when the failure is a refused or reset connection, or
   * completes a run of `consecutiveFailures`, unless that would eject more than the allowed share
   * of its service (then it stays in rotation and its failures keep counting).
   *
   * @returns whether this failure ejected the instance.
   */
  recordFailure(instance: OutlierInstance, failure: OutlierFailure): boolean {
    const now = this.now();
    const key = keyOf(instance);
    let outlier = this.outliers.get(key);
    if (outlier === undefined) {
      outlier = { instance, consecutiveFailures: 0, ejections: 0, ejectedUntil: undefined, lastReturnedAt: undefined };
      this.outliers.set(key, outlier);
    }
    if (outlier.ejectedUntil !== undefined && now < outlier.ejectedUntil) return false;
    outlier.consecutiveFailures += 1;
    const immediate = failure === 'connect_refused' || failure === 'connection_reset';
    if (!immediate && outlier.consecutiveFailures < this.policy.consecutiveFailures) return false;
    const listed = this.listed.get(instance.name)?.keys ?? new Set<string>();
    if (!listed.has(key) || this.ejectedCount(instance.name, now) + 1 > this.allowedEjections(listed.size)) {
      this.logger.debug({ service_name: instance.name, instance_id: instance.id, failure }, 'not ejecting: the service is at its ejection limit');
      return false;
    }
    const quietSpells = outlier.lastReturnedAt === undefined ? 0 : Math.floor((now - outlier.lastReturnedAt) / this.policy.maxEjectionMs);
    outlier.ejections = Math.max(0, outlier.ejections - quietSpells) + 1;
    const ejectionMs = Math.min(this.policy.baseEjectionMs * outlier.ejections, this.policy.maxEjectionMs);
    outlier.ejectedUntil = now + ejectionMs;
    outlier.consecutiveFailures = 0;
    this.ejectionsTotal?.inc({ service_name: instance.name, failure });
    this.ejectedGauge?.set({ service_name: instance.name }, this.ejectedCount(instance.name, now));
    this.logger.warn(
      { service_name: instance.name, instance_id: instance.id, upstream_address: `${instance.address}:${instance.port}`, failure, ejection_ms: ejectionMs, ejections: outlier.ejections },
      'instance ejected',
    );
    return true;
  }

  private restore(outlier: Outlier, now: number): void {
    outlier.ejectedUntil = undefined;
    outlier.lastReturnedAt = now;
    outlier.consecutiveFailures = 0;
    const { instance } = outlier;
    this.ejectedGauge?.set({ service_name: instance.name }, this.ejectedCount(instance.name, now));
    this.logger.info({ service_name: instance.name, instance_id: instance.id, upstream_address: `${instance.address}:${instance.port}` }, 'instance returned from ejection');
  }

  private allowedEjections(instanceCount: number): number {
    return Math.floor((instanceCount * this.policy.maxEjectionPercent) / 100);
  }

  private ejectedCount(serviceName: string, now: number): number {
    let count = 0;
    for (const key of this.listed.get(serviceName)?.keys ?? []) {
      const until = this.outliers.get(key)?.ejectedUntil;
      if (until !== undefined && now < until) count += 1;
    }
    return count;
  }

  /** Forgets a service's instances that left its list and are not ejected now (they left the registry). */
  private prune(serviceName: string, now: number): void {
    const listed = this.listed.get(serviceName)?.keys;
    for (const [key, outlier] of this.outliers) {
      if (outlier.instance.name !== serviceName || listed?.has(key)) continue;
      if (outlier.ejectedUntil === undefined || now >= outlier.ejectedUntil) this.outliers.delete(key);
    }
  }
}

/** A service's instance list as last passed to `available`, and the keys of its instances. */
interface ListedInstances {
  from: readonly OutlierInstance[];
  keys: ReadonlySet<string>;
}

function keyOf(instance: OutlierInstance): string {
  return breakerNameFor(instance);
}

function validatePolicy(policy: OutlierDetectionPolicy): void {
  const problems: string[] = [];
  if (!Number.isInteger(policy.consecutiveFailures) || policy.consecutiveFailures < 1) problems.push('consecutiveFailures must be an integer >= 1');
  if (!(policy.baseEjectionMs > 0)) problems.push('baseEjectionMs must be > 0');
  if (!(policy.maxEjectionMs >= policy.baseEjectionMs)) problems.push('maxEjectionMs must be >= baseEjectionMs');
  if (!(policy.maxEjectionPercent >= 0 && policy.maxEjectionPercent <= 100)) problems.push('maxEjectionPercent must be between 0 and 100');
  if (problems.length > 0) throw new RangeError(`invalid outlier detection policy: ${problems.join('; ')}`);
}
