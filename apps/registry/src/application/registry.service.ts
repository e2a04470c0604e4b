import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Catalog, CatalogEvent, ServiceInfo, ServiceSummary } from '../domain/catalog.js';
import type { Clock } from '../domain/clock.js';
import type { HealthThresholds } from '../domain/health.js';
import { describeTarget, httpCheckTarget, tcpCheckTarget, type HealthCheckDefinition } from '../domain/health-check.value-object.js';
import type { InstanceFilter } from '../domain/instance-filter.js';
import type { InstanceSnapshot } from '../domain/instance.entity.js';
import { ServiceNotFoundError } from '../domain/registry.errors.js';

/** An active check as a registration describes it; exactly one of `http` and `tcp` is set. */
export interface HealthCheckCommand {
  id?: string;
  name?: string;
  /** A path (`/health`, resolved against the instance) or a full http(s) URL. */
  http?: string;
  /** `host:port`. */
  tcp?: string;
  intervalMs: number;
  timeoutMs: number;
  /** This check's own thresholds; what it leaves out comes from the registry's defaults. */
  thresholds?: Partial<HealthThresholds>;
  /** Deregister the instance after it stayed critical this long, in ms; absent: the registry's default. */
  deregisterCriticalAfterMs?: number;
}

/** A request to register (or re-register) one instance. */
export interface RegisterInstanceCommand {
  /** Absent: the registry makes one, `<name>-<uuid>`. */
  id?: string;
  name: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  check?: HealthCheckCommand;
  /** Lease TTL in ms; the instance must heartbeat within it. */
  ttlMs?: number;
}

/** What {@link RegistryService} needs. */
export interface RegistryServiceOptions {
  catalog: Catalog;
  logger: Logger;
  clock: Clock;
  /**
   * How long after start the catalog counts as warming up, in ms (0: never). A restarted
   * registry is empty until every instance's next heartbeat registers it again, so during this
   * time answers say they may be incomplete and clients keep what they knew instead of dropping
   * instances the registry has not heard from yet (Eureka's warm-up after a restart).
   */
  warmupMs: number;
}

/**
 * Seed 001's health check for services registered by URL: `GET <url>/health` every 30 s, 5 s
 * timeout, critical after 3 failures in a row.
 */
const seed001Check = { path: '/health', intervalMs: 30_000, timeoutMs: 5_000, failuresBeforeCritical: 3 } as const;

/**
 * The registry's use cases over the catalog: register (seed 000's way or seed 001's by URL),
 * heartbeat, deregister, discover with filters, summarise, describe one service. It knows
 * whether the registry is still warming up, and writes the catalog's story to the log (who came,
 * who left and why, whose health changed).
 */
export class RegistryService {
  private readonly catalog: Catalog;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly warmUntil: number;

  constructor(options: RegistryServiceOptions) {
    this.catalog = options.catalog;
    this.logger = options.logger;
    this.clock = options.clock;
    this.warmUntil = options.clock.now() + options.warmupMs;
    this.catalog.subscribe((event) => this.logEvent(event));
  }

  /** Whether the registry is still warming up after its start (see {@link RegistryServiceOptions.warmupMs}). */
  get warming(): boolean {
    return this.clock.now() < this.warmUntil;
  }

  /** Time left until the warm-up ends, in ms (0 once it has). */
  get warmupRemainingMs(): number {
    return Math.max(0, this.warmUntil - this.clock.now());
  }

  /** The index of the latest catalog change. */
  get index(): number {
    return this.catalog.index;
  }

  /**
   * Registers an instance; re-registering an id replaces that instance.
   *
   * @throws {InstanceLimitError} when the service already has the maximum number of instances.
   */
  register(command: RegisterInstanceCommand): InstanceSnapshot {
    const id = command.id ?? `${command.name}-${randomUUID()}`;
    const check = command.check === undefined ? undefined : this.checkDefinition(id, command);
    return this.catalog.register({
      id,
      name: command.name,
      address: command.address,
      port: command.port,
      tags: command.tags,
      meta: command.meta,
      ...(check === undefined ? {} : { check }),
      ...(command.ttlMs === undefined ? {} : { ttlMs: command.ttlMs }),
    });
  }

  /**
   * Renews an instance's lease.
   *
   * @throws {InstanceNotFoundError} for an unknown id.
   */
  heartbeat(id: string): InstanceSnapshot {
    return this.catalog.heartbeat(id);
  }

  /**
   * Removes an instance.
   *
   * @throws {InstanceNotFoundError} for an unknown id.
   */
  deregister(id: string): InstanceSnapshot {
    return this.catalog.deregister(id);
  }

  /**
   * Seed 001's registration: a service by name and base URL, e.g. `user-service` at
   * `http://localhost:8081`. The instance id is `<name>@<host>:<port>`, so posting the same pair
   * again replaces it; the registry checks `<url>/health` as {@link seed001Check} says.
   *
   * @throws {InstanceLimitError} when the service already has the maximum number of instances.
   */
  registerByUrl(name: string, url: URL): InstanceSnapshot {
    const address = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    return this.register({
      id: `${name}@${url.host}`,
      name,
      address,
      port,
      tags: [],
      meta: { url: url.origin },
      check: {
        http: new URL(seed001Check.path, url.origin).toString(),
        intervalMs: seed001Check.intervalMs,
        timeoutMs: seed001Check.timeoutMs,
        thresholds: { failuresBeforeCritical: seed001Check.failuresBeforeCritical, successesBeforePassing: 1 },
      },
    });
  }

  /** The instances of a service (only passing ones when `healthyOnly`, only matching ones with a filter); unknown service: none. */
  discover(name: string, healthyOnly: boolean, filter?: InstanceFilter): InstanceSnapshot[] {
    return this.catalog.discover(name, { healthyOnly, ...(filter === undefined ? {} : { filter }) });
  }

  /** Every instance of every service, by service name (seed 003's `DiscoverAll`). */
  catalogByService(healthyOnly: boolean, filter?: InstanceFilter): Map<string, InstanceSnapshot[]> {
    const byService = new Map<string, InstanceSnapshot[]>();
    for (const { name } of this.catalog.summaries(filter)) byService.set(name, this.discover(name, healthyOnly, filter));
    return byService;
  }

  /** Every service with instance counts and health totals (matching instances only, with a filter). */
  summaries(filter?: InstanceFilter): ServiceSummary[] {
    return this.catalog.summaries(filter);
  }

  /**
   * One service in depth: counts, aggregated health, versions, tags and metadata.
   *
   * @throws {ServiceNotFoundError} when the service has no instance.
   */
  serviceInfo(name: string, filter?: InstanceFilter): ServiceInfo {
    const info = this.catalog.serviceInfo(name, filter);
    if (info === undefined) throw new ServiceNotFoundError(name);
    return info;
  }

  private checkDefinition(id: string, command: RegisterInstanceCommand): HealthCheckDefinition | undefined {
    const check = command.check;
    if (check === undefined) return undefined;
    const target = check.http
      ? httpCheckTarget(check.http, command.address, command.port)
      : check.tcp
        ? tcpCheckTarget(check.tcp)
        : undefined;
    // A check with no target is what a Go client sends for "no check" (seed 000: passing).
    if (target === undefined) return undefined;
    return {
      id: check.id || `${id}:${target.kind}`,
      name: check.name || `${target.kind} check of ${command.name}`,
      target,
      intervalMs: check.intervalMs,
      timeoutMs: check.timeoutMs,
      ...(check.thresholds === undefined ? {} : { thresholds: check.thresholds }),
      ...(check.deregisterCriticalAfterMs === undefined ? {} : { deregisterCriticalAfterMs: check.deregisterCriticalAfterMs }),
    };
  }

  private logEvent(event: CatalogEvent): void {
    const { id, name, address, port, health, check } = event.instance;
    const fields = { instance_id: id, service_name: name, address, port, index: event.index };
    const checkTarget = check === undefined ? undefined : describeTarget(check.target);
    switch (event.type) {
      case 'added':
        this.logger.info({ ...fields, check: checkTarget, ttl_ms: event.instance.ttlMs }, 'instance registered');
        return;
      case 'updated':
        if (event.cause === 're-registered') {
          this.logger.info({ ...fields, check: checkTarget, ttl_ms: event.instance.ttlMs }, 'instance re-registered');
        } else {
          const output = event.instance.lastCheckOutput;
          this.logger[health === 'passing' ? 'info' : 'warn']({ ...fields, health, output }, `instance is now ${health}`);
        }
        return;
      case 'removed':
        this.logger[event.reason === 'deregistered' ? 'info' : 'warn']({ ...fields, reason: event.reason }, 'instance removed');
        return;
      default: {
        const unhandled: never = event;
        throw new Error(`unhandled catalog event ${JSON.stringify(unhandled)}`);
      }
    }
  }
}
