import type { Logger } from '@msr/service-defaults';
import { Counter, Gauge, type Registry } from 'prom-client';
import { RegistryError } from './errors.js';
import type { DiscoveryAnswer, LookupOptions, RegistryWatchEvent, WatchOptions } from './registry-client.js';
import type { ServiceInstance } from './service-instance.js';

/** Where a caller gets a service's instances from; {@link ServiceDiscovery} is the real one. */
export interface InstanceSource {
  instances(serviceName: string): Promise<readonly ServiceInstance[]>;
}

/**
 * What {@link ServiceDiscovery} asks the registry; a {@link RegistryClient} offers all of it.
 * `lookup` (indexes, warm-up) and `watch` (the event stream) are optional, so a bare
 * `discover` works too (then the cache lives on periodic refreshes alone).
 */
export interface DiscoveryRegistry {
  discover(name: string, options?: { healthyOnly?: boolean }): Promise<ServiceInstance[]>;
  lookup?(name: string, options?: LookupOptions): Promise<DiscoveryAnswer>;
  watch?(options: WatchOptions): AsyncIterable<RegistryWatchEvent>;
}

/** What {@link ServiceDiscovery} needs. */
export interface ServiceDiscoveryOptions {
  /** Usually a {@link RegistryClient}. */
  registry: DiscoveryRegistry;
  logger: Logger;
  /** How often every cached service is fetched again, in ms (the fallback when the watch stream is down); default 2000. */
  refreshIntervalMs?: number;
  /** Keep the cache fresh from the registry's watch stream when the registry client offers one; default true. */
  watch?: boolean;
  /** Longest silence on the watch stream before it is reopened, in ms; default 45 000 (three registry keep-alives). */
  watchIdleTimeoutMs?: number;
  /**
   * When given, registers `discovery_cache_staleness_seconds{service_name}` (seconds since the
   * cached list was last known to match the registry: 0 while the watch stream is up, else since
   * the last successful fetch; updated at each refresh tick) and
   * `discovery_refresh_failures_total{service_name}`.
   */
  metricsRegistry?: Registry;
  /** Clock in ms since the epoch; `Date.now` unless testing. */
  now?: () => number;
}

interface CacheEntry {
  /** Passing instances by id, in the order the registry listed them. */
  byId: Map<string, ServiceInstance>;
  instances: readonly ServiceInstance[];
  /** The catalog index the list reflects, when the registry reports indexes. */
  index: number | undefined;
  /** When the list was last fetched successfully, in ms since the epoch. */
  fetchedAt: number;
  refreshing: Promise<void> | undefined;
  failing: boolean;
}

type InstanceEvent = Extract<RegistryWatchEvent, { service: string }>;

/** Watch events kept so that a fetch answered with an older index can be brought up to date. */
const recentEventLimit = 512;
const watchBackoff = { initialMs: 100, maxMs: 2_000, unsupportedMs: 30_000 } as const;

/**
 * Client-side discovery with a local cache (seed 000's `DiscoveryClient`, made stale-if-error and
 * pushed by seed 003's watch events): the first call for a service fetches its instances from the
 * registry; after that, calls are answered from the cache, which the registry's watch stream
 * (Server-Sent Events) keeps current as instances come, go and change health, while a timer
 * refreshes it every `refreshIntervalMs` as a fallback. When the registry is unreachable the last
 * good list keeps being served (it is never emptied because the registry is down) and its
 * staleness is exposed as a metric. While a restarted registry warms up, instances it has not
 * heard from yet are kept rather than dropped.
 */
export class ServiceDiscovery implements InstanceSource {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly firstFetches = new Map<string, Promise<CacheEntry>>();
  private readonly registry: DiscoveryRegistry;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout;
  private readonly staleness: Gauge<'service_name'> | undefined;
  private readonly refreshFailures: Counter<'service_name'> | undefined;
  private readonly watchEnabled: boolean;
  private readonly watchIdleTimeoutMs: number;
  private readonly recent: InstanceEvent[] = [];
  private readonly stop = new AbortController();
  private watching: Promise<void> | undefined;
  private streamUp = false;
  /** When the watch stream last went down (or never came up), in ms since the epoch. */
  private watchSyncedAt = 0;
  private watchIndex: number | undefined;

  constructor(options: ServiceDiscoveryOptions) {
    this.registry = options.registry;
    this.logger = options.logger.child({ component: 'service-discovery' });
    this.now = options.now ?? Date.now;
    this.watchEnabled = (options.watch ?? true) && typeof options.registry.watch === 'function';
    this.watchIdleTimeoutMs = options.watchIdleTimeoutMs ?? 45_000;
    const metrics = options.metricsRegistry;
    if (metrics !== undefined) {
      // Several discoveries may share one process registry: reuse what is registered.
      this.staleness =
        (metrics.getSingleMetric('discovery_cache_staleness_seconds') as Gauge<'service_name'> | undefined) ??
        new Gauge({
          name: 'discovery_cache_staleness_seconds',
          help: 'Seconds since the cached instance list of a service was last known to match the registry.',
          labelNames: ['service_name'],
          registers: [metrics],
        });
      this.refreshFailures =
        (metrics.getSingleMetric('discovery_refresh_failures_total') as Counter<'service_name'> | undefined) ??
        new Counter({
          name: 'discovery_refresh_failures_total',
          help: 'Failed refreshes of a cached instance list (the last good list was kept).',
          labelNames: ['service_name'],
          registers: [metrics],
        });
    }
    this.timer = setInterval(() => void this.refreshAll(), options.refreshIntervalMs ?? 2_000);
    this.timer.unref();
  }

  /**
   * The healthy instances of a service: from the cache, or fetched on the first call (which also
   * opens the watch stream).
   *
   * @throws {RegistryError} when the first fetch of this service fails (nothing cached yet).
   */
  async instances(serviceName: string): Promise<readonly ServiceInstance[]> {
    const cached = this.cache.get(serviceName);
    if (cached !== undefined) return cached.instances;
    this.startWatching();
    let first = this.firstFetches.get(serviceName);
    if (first === undefined) {
      first = this.fetchFirst(serviceName).finally(() => this.firstFetches.delete(serviceName));
      this.firstFetches.set(serviceName, first);
    }
    return (await first).instances;
  }

  /**
   * Fetches every cached service now instead of waiting for the timer (also what the timer
   * does). Never throws: failures keep the last good list.
   */
  async refreshAll(): Promise<void> {
    await Promise.all([...this.cache.entries()].map(([name, entry]) => this.refresh(name, entry)));
  }

  /**
   * Seconds since `serviceName`'s list was last known to match the registry: 0 while the watch
   * stream is connected, else since the last successful fetch or the stream's end, whichever is
   * later. Undefined when the service is not cached.
   */
  stalenessSeconds(serviceName: string): number | undefined {
    const entry = this.cache.get(serviceName);
    if (entry === undefined) return undefined;
    const now = this.now();
    const syncedAt = Math.max(entry.fetchedAt, this.streamUp ? now : this.watchSyncedAt);
    return (now - syncedAt) / 1_000;
  }

  /** Whether the watch stream is connected now. */
  get watchConnected(): boolean {
    return this.streamUp;
  }

  /** Stops the refresh timer and the watch stream. The cache keeps answering with what it holds. */
  close(): void {
    clearInterval(this.timer);
    this.stop.abort();
  }

  private async fetch(serviceName: string): Promise<DiscoveryAnswer> {
    if (this.registry.lookup !== undefined) {
      // All instances, not only passing ones: during a warm-up, "listed but critical" must be told from "not listed yet".
      return this.registry.lookup(serviceName, { healthyOnly: false });
    }
    return { instances: await this.registry.discover(serviceName, { healthyOnly: true }), index: undefined, warming: false };
  }

  private async fetchFirst(serviceName: string): Promise<CacheEntry> {
    const answer = await this.fetch(serviceName);
    const entry: CacheEntry = { byId: new Map(), instances: [], index: undefined, fetchedAt: this.now(), refreshing: undefined, failing: false };
    this.applyAnswer(serviceName, entry, answer);
    this.cache.set(serviceName, entry);
    this.updateStaleness(serviceName);
    return entry;
  }

  private refresh(serviceName: string, entry: CacheEntry): Promise<void> {
    entry.refreshing ??= this.fetch(serviceName)
      .then(
        (answer) => {
          this.applyAnswer(serviceName, entry, answer);
          entry.fetchedAt = this.now();
          if (entry.failing) this.logger.info({ service_name: serviceName, instances: entry.instances.length }, 'registry reachable again: instance list refreshed');
          entry.failing = false;
        },
        (error: unknown) => {
          this.refreshFailures?.inc({ service_name: serviceName });
          // Warn once per outage; the cached list stays in use meanwhile.
          this.logger[entry.failing ? 'debug' : 'warn'](
            { service_name: serviceName, err: error, cached_instances: entry.instances.length },
            'refreshing instances failed: serving the last good list',
          );
          entry.failing = true;
        },
      )
      .finally(() => {
        entry.refreshing = undefined;
        this.updateStaleness(serviceName);
      });
    return entry.refreshing;
  }

  /**
   * Takes a fetched list into the cache: it replaces the list, or during a warm-up only adds and
   * updates (instances the registry has not heard from yet stay). An answer older than what the
   * watch stream already delivered is ignored, and watch events newer than the answer are
   * applied again on top, so a slow answer cannot undo them.
   */
  private applyAnswer(serviceName: string, entry: CacheEntry, answer: DiscoveryAnswer): void {
    // An answer computed before changes the watch stream already delivered is older than the cache.
    if (answer.index !== undefined && entry.index !== undefined && answer.index < entry.index) return;
    this.applyList(entry, answer.instances, answer.warming);
    entry.index = answer.index;
    if (answer.index !== undefined) {
      for (const event of this.recent) if (event.service === serviceName && event.index > answer.index) this.applyEvent(entry, event);
    }
  }

  private applyList(entry: CacheEntry, instances: readonly ServiceInstance[], warming: boolean): void {
    const byId = warming ? new Map(entry.byId) : new Map<string, ServiceInstance>();
    for (const instance of instances) {
      if (instance.health === 'passing') byId.set(instance.id, instance);
      else byId.delete(instance.id);
    }
    entry.byId = byId;
    entry.instances = [...byId.values()];
  }

  private applyEvent(entry: CacheEntry, event: InstanceEvent): void {
    if (entry.index !== undefined && event.index <= entry.index) return;
    entry.index = event.index;
    const byId = new Map(entry.byId);
    if (event.type !== 'removed' && event.instance.health === 'passing') byId.set(event.instance.id, event.instance);
    else byId.delete(event.instance.id);
    entry.byId = byId;
    entry.instances = [...byId.values()];
  }

  private onWatchEvent(event: RegistryWatchEvent): void {
    switch (event.type) {
      case 'open':
        return;
      case 'snapshot': {
        this.watchIndex = event.index;
        this.recent.length = 0;
        for (const [name, entry] of this.cache) {
          this.applyList(entry, event.instances.filter((instance) => instance.name === name), event.warming);
          entry.index = event.index;
        }
        return;
      }
      case 'added':
      case 'updated':
      case 'removed': {
        this.watchIndex = event.index;
        this.recent.push(event);
        if (this.recent.length > recentEventLimit) this.recent.shift();
        const entry = this.cache.get(event.service);
        if (entry !== undefined) this.applyEvent(entry, event);
        return;
      }
      default: {
        const unknown: never = event;
        throw new Error(`unhandled watch event ${JSON.stringify(unknown)}`);
      }
    }
  }

  private startWatching(): void {
    if (!this.watchEnabled || this.watching !== undefined || this.stop.signal.aborted) return;
    this.watching = this.watchLoop();
  }

  /** Keeps the watch stream open: reconnects with the last index seen, backing off while the registry is away. */
  private async watchLoop(): Promise<void> {
    const watch = this.registry.watch?.bind(this.registry);
    if (watch === undefined) return;
    const signal = this.stop.signal;
    let delayMs: number = watchBackoff.initialMs;
    let announcedDown = false;
    while (!signal.aborted) {
      try {
        const stream = watch({
          signal,
          idleTimeoutMs: this.watchIdleTimeoutMs,
          ...(this.watchIndex === undefined ? {} : { index: this.watchIndex }),
        });
        for await (const event of stream) {
          if (!this.streamUp) {
            this.streamUp = true;
            delayMs = watchBackoff.initialMs;
            if (announcedDown) this.logger.info({ index: this.watchIndex }, 'watch stream to the registry open again');
            announcedDown = false;
          }
          this.onWatchEvent(event);
        }
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof RegistryError && (error.status === 404 || error.status === 405)) {
          this.logger.info({ status: error.status }, 'the registry offers no watch stream: keeping the cache fresh by refreshing');
          delayMs = watchBackoff.unsupportedMs;
        } else if (!announcedDown) {
          this.logger.warn({ err: error }, 'watch stream to the registry lost: serving the cache, refreshing, reconnecting');
          announcedDown = true;
        }
      }
      if (this.streamUp) {
        this.streamUp = false;
        this.watchSyncedAt = this.now();
      }
      await sleep(delayMs / 2 + Math.random() * (delayMs / 2), signal);
      delayMs = Math.min(delayMs * 2, Math.max(delayMs, watchBackoff.maxMs));
    }
  }

  private updateStaleness(serviceName: string): void {
    const seconds = this.stalenessSeconds(serviceName);
    if (seconds !== undefined) this.staleness?.set({ service_name: serviceName }, seconds);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
