import type { Clock } from './clock.js';
import { defaultHealthThresholds, healthStatuses, type HealthStatus, type HealthThresholds } from './health.js';
import { matchesFilter, type InstanceFilter } from './instance-filter.js';
import { Instance, type InstanceRegistration, type InstanceSnapshot } from './instance.entity.js';
import { InstanceLimitError, InstanceNotFoundError } from './registry.errors.js';
import {
  defaultSelfPreservationPolicy,
  shouldPreserve,
  type SelfPreservationPolicy,
  type SelfPreservationState,
} from './self-preservation.js';

/** Why an instance left the catalog. */
export type RemovalReason = 'deregistered' | 'lease_expired' | 'critical_timeout';

/**
 * A change to the catalog (seed 003's added / removed / updated events). `index` increases by one
 * with every change, Consul style, so a watcher can tell what it has already seen.
 */
export type CatalogEvent =
  | { type: 'added'; index: number; instance: InstanceSnapshot }
  | { type: 'updated'; index: number; instance: InstanceSnapshot; cause: 're-registered' | 'health_changed' }
  | { type: 'removed'; index: number; instance: InstanceSnapshot; reason: RemovalReason };

type WithoutIndex<E> = E extends unknown ? Omit<E, 'index'> : never;

/** Receives every catalog event synchronously, in index order. Must not throw. */
export type CatalogListener = (event: CatalogEvent) => void;

/** Instance count and health totals of one service (seed 003's catalog entry). */
export interface ServiceSummary {
  name: string;
  instances: number;
  health: Record<HealthStatus, number>;
  /** Every tag any instance carries, sorted. */
  tags: string[];
}

/** One service in depth (seed 003's `GetServiceInfo`): its summary plus aggregated health, versions and metadata. */
export interface ServiceInfo extends ServiceSummary {
  /** `passing` when every instance passes, `critical` when none does, `warning` in between. */
  aggregatedHealth: HealthStatus;
  /** The distinct `meta.version` values of its instances, sorted. */
  versions: string[];
  /** Every metadata key of its instances with the distinct values seen, sorted. */
  meta: Record<string, string[]>;
  /** Index of the latest change to this service. */
  index: number;
}

/** Policies of a {@link Catalog}. */
export interface CatalogOptions {
  clock: Clock;
  thresholds?: HealthThresholds;
  /** An instance critical for this long (ms) is removed by the next {@link Catalog.sweep}. */
  deregisterCriticalAfterMs: number;
  /**
   * Lease (ms) given to a registration that brings neither a TTL nor an active check, so an
   * instance nothing can vouch for does not stay forever. 0 or absent: no lease (seed 000).
   */
  defaultTtlMs?: number;
  /**
   * Index the catalog starts counting from (0 when absent). The registry starts it at its start
   * time in ms, so indexes keep growing across restarts and a watcher holding an index from
   * before a restart is never taken for up to date.
   */
  initialIndex?: number;
  /** Most instances one service may have (seed 003); absent: no limit. */
  maxInstancesPerService?: number;
  /** When to stop evicting; default {@link defaultSelfPreservationPolicy}. */
  selfPreservation?: SelfPreservationPolicy;
}

/**
 * The in-memory catalog of service instances: registration, heartbeats against leases, health
 * transitions from active checks, and eviction of lapsed and long-critical instances (the
 * service registry pattern, seeds 000, 003 and 004), with self-preservation when too many leases
 * lapse at once. Time comes from the injected clock; nothing here starts a timer, so the
 * application layer decides when checks and sweeps run.
 */
export class Catalog {
  private readonly instances = new Map<string, Instance>();
  private readonly listeners = new Set<CatalogListener>();
  private readonly thresholds: HealthThresholds;
  private readonly serviceIndexes = new Map<string, number>();
  private readonly preservationPolicy: SelfPreservationPolicy;
  private preservation: SelfPreservationState = { active: false, leased: 0, missing: 0, suppressedEvictions: 0 };
  private currentIndex: number;

  constructor(private readonly options: CatalogOptions) {
    this.thresholds = options.thresholds ?? defaultHealthThresholds;
    this.currentIndex = options.initialIndex ?? 0;
    this.preservationPolicy = options.selfPreservation ?? defaultSelfPreservationPolicy;
  }

  /** The index of the latest change (the initial index before any). */
  get index(): number {
    return this.currentIndex;
  }

  /**
   * The index of the latest change to one service (registration, health change or removal of
   * one of its instances); the initial index when it never changed. Blocking queries wait for it
   * to pass the index a client already has.
   */
  serviceIndex(name: string): number {
    return this.serviceIndexes.get(name) ?? this.options.initialIndex ?? 0;
  }

  /** Self-preservation as of the last {@link sweep}. */
  get selfPreservation(): SelfPreservationState {
    return { ...this.preservation };
  }

  /** Subscribes to catalog events; returns the unsubscribe function. */
  subscribe(listener: CatalogListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Registers an instance, or replaces the one with the same id (an instance that restarted):
   * the replacement starts afresh, passing, with a new lease.
   *
   * @throws {InstanceLimitError} when a new id would take the service past `maxInstancesPerService`.
   */
  register(registration: InstanceRegistration): InstanceSnapshot {
    const replaced = this.instances.has(registration.id);
    const limit = this.options.maxInstancesPerService;
    if (limit !== undefined && this.instances.get(registration.id)?.name !== registration.name) {
      let count = 0;
      for (const instance of this.instances.values()) if (instance.name === registration.name) count += 1;
      if (count >= limit) throw new InstanceLimitError(registration.name, limit);
    }
    const withLease = this.withDefaultLease(registration);
    const instance = Instance.register(withLease, this.options.clock.now(), this.currentIndex + 1);
    this.instances.set(instance.id, instance);
    const snapshot = instance.snapshot();
    this.emit(
      replaced
        ? { type: 'updated', instance: snapshot, cause: 're-registered' }
        : { type: 'added', instance: snapshot },
    );
    return snapshot;
  }

  /**
   * Renews an instance's lease.
   *
   * @throws {InstanceNotFoundError} when the id is unknown (e.g. the lease already lapsed, or the
   * registry restarted): the client should register again.
   */
  heartbeat(id: string): InstanceSnapshot {
    const instance = this.require(id);
    instance.renewLease(this.options.clock.now());
    return instance.snapshot();
  }

  /**
   * Removes an instance.
   *
   * @throws {InstanceNotFoundError} when the id is unknown.
   */
  deregister(id: string): InstanceSnapshot {
    return this.remove(this.require(id), 'deregistered');
  }

  /**
   * Applies one active check result to the instance registered as `generation`. Results for an
   * instance that is gone or was registered again since the check started are dropped.
   */
  recordCheckResult(id: string, generation: number, passed: boolean, output?: string): void {
    const instance = this.instances.get(id);
    if (instance === undefined || instance.snapshot().generation !== generation) return;
    if (instance.recordCheck(passed, output, this.options.clock.now(), this.thresholds)) {
      this.emit({ type: 'updated', instance: instance.snapshot(), cause: 'health_changed' });
    }
  }

  /**
   * Removes every instance whose lease lapsed or that stayed critical for its
   * deregister-critical time, unless self-preservation holds: when more than the policy's share
   * of leased instances miss heartbeats at once, nothing is removed until enough of them are back
   * (see {@link selfPreservation}).
   *
   * @returns the removed instances.
   */
  sweep(): InstanceSnapshot[] {
    const now = this.options.clock.now();
    let leased = 0;
    let missing = 0;
    for (const instance of this.instances.values()) {
      if (!instance.leased) continue;
      leased += 1;
      if (instance.missesHeartbeats(now)) missing += 1;
    }
    const due: Array<{ instance: Instance; reason: RemovalReason }> = [];
    for (const instance of this.instances.values()) {
      const reason = this.evictionReason(instance, now);
      if (reason !== undefined) due.push({ instance, reason });
    }
    if (shouldPreserve(leased, missing, this.preservationPolicy)) {
      this.preservation = { active: true, since: this.preservation.since ?? now, leased, missing, suppressedEvictions: due.length };
      return [];
    }
    this.preservation = { active: false, leased, missing, suppressedEvictions: 0 };
    return due.map(({ instance, reason }) => this.remove(instance, reason));
  }

  /**
   * The instances of one service in registration order; only `passing` ones when `healthyOnly`,
   * only those matching `filter` when given. An unknown service has no instances (an empty list,
   * not an error).
   */
  discover(name: string, options: { healthyOnly: boolean; filter?: InstanceFilter }): InstanceSnapshot[] {
    const found: InstanceSnapshot[] = [];
    for (const instance of this.instances.values()) {
      if (instance.name !== name || (options.healthyOnly && instance.health !== 'passing')) continue;
      const snapshot = instance.snapshot();
      if (matchesFilter(snapshot, options.filter)) found.push(snapshot);
    }
    return found;
  }

  /** One instance, if registered. */
  get(id: string): InstanceSnapshot | undefined {
    return this.instances.get(id)?.snapshot();
  }

  /** Every instance, in registration order. */
  all(): InstanceSnapshot[] {
    return [...this.instances.values()].map((instance) => instance.snapshot());
  }

  /** Every service with its instance count and health totals, sorted by name; with a filter, counting matching instances only. */
  summaries(filter?: InstanceFilter): ServiceSummary[] {
    const byName = new Map<string, { summary: ServiceSummary; tags: Set<string> }>();
    for (const instance of this.instances.values()) {
      const snapshot = instance.snapshot();
      if (!matchesFilter(snapshot, filter)) continue;
      const { name, tags, health } = snapshot;
      let entry = byName.get(name);
      if (entry === undefined) {
        const totals = Object.fromEntries(healthStatuses.map((status) => [status, 0])) as Record<HealthStatus, number>;
        entry = { summary: { name, instances: 0, health: totals, tags: [] }, tags: new Set() };
        byName.set(name, entry);
      }
      entry.summary.instances += 1;
      entry.summary.health[health] += 1;
      for (const tag of tags) entry.tags.add(tag);
    }
    return [...byName.values()]
      .map(({ summary, tags }) => ({ ...summary, tags: [...tags].sort() }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * One service in depth, counting the instances that match `filter`; undefined when the
   * service has no instance at all.
   */
  serviceInfo(name: string, filter?: InstanceFilter): ServiceInfo | undefined {
    const all = this.discover(name, { healthyOnly: false });
    if (all.length === 0) return undefined;
    const matching = all.filter((instance) => matchesFilter(instance, filter));
    const health = Object.fromEntries(healthStatuses.map((status) => [status, 0])) as Record<HealthStatus, number>;
    const tags = new Set<string>();
    const meta = new Map<string, Set<string>>();
    for (const instance of matching) {
      health[instance.health] += 1;
      for (const tag of instance.tags) tags.add(tag);
      for (const [key, value] of Object.entries(instance.meta)) {
        let values = meta.get(key);
        if (values === undefined) meta.set(key, (values = new Set()));
        values.add(value);
      }
    }
    const aggregatedHealth: HealthStatus = health.passing === matching.length && matching.length > 0 ? 'passing' : health.passing === 0 ? 'critical' : 'warning';
    return {
      name,
      instances: matching.length,
      health,
      tags: [...tags].sort(),
      aggregatedHealth,
      versions: [...(meta.get('version') ?? [])].sort(),
      meta: Object.fromEntries([...meta.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, values]) => [key, [...values].sort()])),
      index: this.serviceIndex(name),
    };
  }

  private evictionReason(instance: Instance, now: number): RemovalReason | undefined {
    if (instance.leaseExpired(now)) return 'lease_expired';
    const limit = instance.deregisterCriticalAfterMs ?? this.options.deregisterCriticalAfterMs;
    if (instance.health === 'critical' && instance.criticalFor(now) >= limit) return 'critical_timeout';
    return undefined;
  }

  private withDefaultLease(registration: InstanceRegistration): InstanceRegistration {
    const defaultTtlMs = this.options.defaultTtlMs ?? 0;
    if (registration.ttlMs !== undefined || registration.check !== undefined || defaultTtlMs <= 0) return registration;
    return { ...registration, ttlMs: defaultTtlMs };
  }

  private require(id: string): Instance {
    const instance = this.instances.get(id);
    if (instance === undefined) throw new InstanceNotFoundError(id);
    return instance;
  }

  private remove(instance: Instance, reason: RemovalReason): InstanceSnapshot {
    this.instances.delete(instance.id);
    const snapshot = instance.snapshot();
    this.emit({ type: 'removed', instance: snapshot, reason });
    return snapshot;
  }

  private emit(event: WithoutIndex<CatalogEvent>): void {
    this.currentIndex += 1;
    this.serviceIndexes.set(event.instance.name, this.currentIndex);
    const indexed = { ...event, index: this.currentIndex } as CatalogEvent;
    for (const listener of this.listeners) listener(indexed);
  }
}
