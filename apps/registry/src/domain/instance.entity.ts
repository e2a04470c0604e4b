import type { HealthCheckDefinition } from './health-check.value-object.js';
import { applyCheckResult, initialCheckRecord, type CheckRecord, type HealthStatus, type HealthThresholds } from './health.js';

/** What a registration says about an instance (seed 000's `ServiceInstance` plus a lease). */
export interface InstanceRegistration {
  id: string;
  name: string;
  address: string;
  port: number;
  tags: readonly string[];
  meta: Readonly<Record<string, string>>;
  /** Active health check, if any. */
  check?: HealthCheckDefinition;
  /** Lease time-to-live in ms: without a heartbeat within it the instance is removed. */
  ttlMs?: number;
}

/** A read-only copy of an instance's state at one moment; what the catalog hands out. */
export interface InstanceSnapshot {
  readonly id: string;
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  readonly health: HealthStatus;
  /** Last time the instance registered, heartbeated or passed a check, in ms since the epoch. */
  readonly lastSeenAt: number;
  readonly registeredAt: number;
  /** Last registration or heartbeat, in ms since the epoch: what a lease is measured from. */
  readonly lastRenewedAt: number;
  /** Whether a heartbeat arrived since the registration. */
  readonly heartbeated: boolean;
  /** When the last active check finished, passed or failed, in ms since the epoch. */
  readonly lastCheckedAt?: number;
  readonly check?: HealthCheckDefinition;
  readonly ttlMs?: number;
  /** When the lease lapses unless renewed, in ms since the epoch. */
  readonly leaseExpiresAt?: number;
  /** Since when the instance has been critical, in ms since the epoch. */
  readonly criticalSince?: number;
  /** Output of the last failed check, e.g. `HTTP 503` or `connect ECONNREFUSED`. */
  readonly lastCheckOutput?: string;
  /**
   * Catalog index at which this registration was made. A re-registration gets a new one, so a
   * check result that arrives for an older registration can be recognised and dropped.
   */
  readonly generation: number;
}

/**
 * One registered instance of a service: its lease (seed 004's ephemeral registration renewed by
 * heartbeats) and its health, moved by active check results through {@link applyCheckResult}.
 */
export class Instance {
  private record: CheckRecord = initialCheckRecord;
  private lastSeenAt: number;
  private lastRenewedAt: number;
  private heartbeated = false;
  private lastCheckedAt: number | undefined;
  private leaseExpiresAt: number | undefined;
  private criticalSince: number | undefined;
  private lastCheckOutput: string | undefined;

  private constructor(
    private readonly registration: InstanceRegistration,
    private readonly registeredAt: number,
    private readonly generation: number,
  ) {
    this.lastSeenAt = registeredAt;
    this.lastRenewedAt = registeredAt;
    this.leaseExpiresAt = registration.ttlMs === undefined ? undefined : registeredAt + registration.ttlMs;
  }

  /** A freshly registered instance: passing (seed 000), its lease starting now. */
  static register(registration: InstanceRegistration, now: number, generation: number): Instance {
    return new Instance(registration, now, generation);
  }

  get id(): string {
    return this.registration.id;
  }

  get name(): string {
    return this.registration.name;
  }

  get health(): HealthStatus {
    return this.record.status;
  }

  /** How long this instance may stay critical before it is deregistered, in ms; undefined: the catalog's default. */
  get deregisterCriticalAfterMs(): number | undefined {
    return this.registration.check?.deregisterCriticalAfterMs;
  }

  /** A heartbeat: the lease (if any) runs for another TTL from now. */
  renewLease(now: number): void {
    this.lastSeenAt = now;
    this.lastRenewedAt = now;
    this.heartbeated = true;
    if (this.registration.ttlMs !== undefined) this.leaseExpiresAt = now + this.registration.ttlMs;
  }

  /**
   * Applies one active check result, with the check's own thresholds where it has them and
   * `defaultThresholds` for the rest.
   *
   * @returns whether the health status changed.
   */
  recordCheck(passed: boolean, output: string | undefined, now: number, defaultThresholds: HealthThresholds): boolean {
    const before = this.record.status;
    this.record = applyCheckResult(this.record, passed, { ...defaultThresholds, ...this.registration.check?.thresholds });
    this.lastCheckedAt = now;
    if (passed) {
      this.lastSeenAt = now;
      this.lastCheckOutput = undefined;
    } else {
      this.lastCheckOutput = output;
    }
    if (this.record.status === before) return false;
    this.criticalSince = this.record.status === 'critical' ? now : undefined;
    return true;
  }

  /**
   * Whether the instance holds a lease and has been silent for at least half of it: at least one
   * heartbeat (sent every third of the TTL by our clients) is missing. Self-preservation counts these.
   */
  missesHeartbeats(now: number): boolean {
    const ttlMs = this.registration.ttlMs;
    return ttlMs !== undefined && now - this.lastRenewedAt >= ttlMs / 2;
  }

  /** Whether the instance holds a lease at all. */
  get leased(): boolean {
    return this.registration.ttlMs !== undefined;
  }

  /** Whether the lease lapsed: the instance held one and did not renew it in time. */
  leaseExpired(now: number): boolean {
    return this.leaseExpiresAt !== undefined && now >= this.leaseExpiresAt;
  }

  /** How long the instance has been critical, in ms (0 when it is not). */
  criticalFor(now: number): number {
    return this.criticalSince === undefined ? 0 : now - this.criticalSince;
  }

  /** A read-only copy of the current state. */
  snapshot(): InstanceSnapshot {
    const { id, name, address, port, tags, meta, check, ttlMs } = this.registration;
    return {
      id,
      name,
      address,
      port,
      tags,
      meta,
      health: this.record.status,
      lastSeenAt: this.lastSeenAt,
      registeredAt: this.registeredAt,
      lastRenewedAt: this.lastRenewedAt,
      heartbeated: this.heartbeated,
      generation: this.generation,
      ...(this.lastCheckedAt === undefined ? {} : { lastCheckedAt: this.lastCheckedAt }),
      ...(check === undefined ? {} : { check }),
      ...(ttlMs === undefined ? {} : { ttlMs }),
      ...(this.leaseExpiresAt === undefined ? {} : { leaseExpiresAt: this.leaseExpiresAt }),
      ...(this.criticalSince === undefined ? {} : { criticalSince: this.criticalSince }),
      ...(this.lastCheckOutput === undefined ? {} : { lastCheckOutput: this.lastCheckOutput }),
    };
  }
}
