import type { Logger } from 'pino';
import type { Catalog, CatalogEvent } from '../domain/catalog.js';
import type { InstanceSnapshot } from '../domain/instance.entity.js';

/**
 * What a watcher receives (seed 003's watch): catalog events in index order, or a snapshot of
 * the current instances when the watcher is new, cannot be caught up from history, or the
 * registry finished warming up.
 */
export type WatchMessage =
  | { kind: 'event'; event: CatalogEvent }
  | {
      kind: 'snapshot';
      /** The catalog index the snapshot reflects. */
      index: number;
      /** True while the registry is warming up after a start: the list may still be incomplete. */
      warming: boolean;
      instances: InstanceSnapshot[];
    };

/**
 * Why a watch ends: `dropped` (it fell too far behind; cut it off at once), `shutdown` (the
 * registry stops; end it cleanly) or `unwatched` (the client left).
 */
export type WatchEndReason = 'dropped' | 'shutdown' | 'unwatched';

/**
 * Where a watcher's messages go (an SSE response in the HTTP layer). Like a Node stream, `send`
 * always takes the message and returns false once the transport is saturated; the hub then
 * queues further messages until `onDrain` fires.
 */
export interface WatchTransport {
  send(message: WatchMessage): boolean;
  onDrain(callback: () => void): void;
  /** Ends the stream. */
  close(reason: WatchEndReason): void;
}

/** What a watcher wants. */
export interface WatchRequest {
  /** Only this service's changes; absent: every service. */
  service?: string;
  /**
   * The last index the watcher saw (an SSE `Last-Event-ID` or `?index=`): the hub replays what
   * came after it from its history, or sends a snapshot when it cannot. Absent: a snapshot first.
   */
  afterIndex?: number;
}

/** What {@link WatchHub} needs. */
export interface WatchHubOptions {
  catalog: Catalog;
  logger: Logger;
  /** Messages one watcher may have queued beyond its transport's own buffer before it is dropped. */
  bufferSize: number;
  /** Events kept to catch reconnecting watchers up. */
  historySize: number;
  /** Whether the registry is still warming up (see RegistryService). */
  isWarming: () => boolean;
}

/** Why {@link WatchHub.waitForChange} returned. */
export type WaitOutcome = 'changed' | 'timeout' | 'aborted';

class Watcher {
  private readonly queue: WatchMessage[] = [];
  private saturated = false;
  closed = false;

  constructor(
    readonly request: WatchRequest,
    private readonly transport: WatchTransport,
    private readonly bufferSize: number,
    private readonly onOverflow: (watcher: Watcher) => void,
  ) {
    transport.onDrain(() => this.flush());
  }

  wants(event: CatalogEvent): boolean {
    return this.request.service === undefined || this.request.service === event.instance.name;
  }

  push(message: WatchMessage): void {
    if (this.closed) return;
    if (!this.saturated) {
      this.saturated = !this.transport.send(message);
      return;
    }
    this.queue.push(message);
    if (this.queue.length > this.bufferSize) this.onOverflow(this);
  }

  close(reason: WatchEndReason): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.transport.close(reason);
  }

  private flush(): void {
    this.saturated = false;
    while (!this.closed && !this.saturated && this.queue.length > 0) {
      this.saturated = !this.transport.send(this.queue.shift() as WatchMessage);
    }
  }
}

/**
 * Fans catalog events out to watchers (seed 003's Watch/Unwatch with buffered channels; Consul's
 * blocking queries). Every watcher gets events in index order. A slow watcher never holds the
 * registry up: its messages queue up to `bufferSize`, and one more drops it (its stream ends,
 * the client reconnects with its last index and is caught up from history). Blocking queries wait
 * here for a service's index to pass the one the client has.
 */
export class WatchHub {
  private readonly watchers = new Set<Watcher>();
  private readonly waiters = new Set<{ service: string; afterIndex: number; wake: () => void }>();
  private readonly history: CatalogEvent[] = [];
  private readonly dropListeners = new Set<() => void>();
  private readonly unsubscribe: () => void;
  private readonly logger: Logger;

  constructor(private readonly options: WatchHubOptions) {
    this.logger = options.logger.child({ component: 'watch-hub' });
    this.unsubscribe = options.catalog.subscribe((event) => this.publish(event));
  }

  /** Watchers connected now. */
  get size(): number {
    return this.watchers.size;
  }

  /** Calls `listener` each time a slow watcher is dropped; returns the unsubscribe function. */
  onDrop(listener: () => void): () => void {
    this.dropListeners.add(listener);
    return () => this.dropListeners.delete(listener);
  }

  /**
   * Starts a watcher: first a snapshot or the events it missed (see {@link WatchRequest.afterIndex}),
   * then every new event it wants.
   *
   * @returns a function that stops the watcher (call it when the client goes away).
   */
  watch(request: WatchRequest, transport: WatchTransport): () => void {
    const watcher = new Watcher(request, transport, this.options.bufferSize, (slow) => this.drop(slow));
    const missed = this.missedSince(request);
    if (missed === undefined) watcher.push(this.snapshotFor(request.service));
    else for (const event of missed) watcher.push({ kind: 'event', event });
    if (!watcher.closed) this.watchers.add(watcher);
    return () => {
      this.watchers.delete(watcher);
      watcher.close('unwatched');
    };
  }

  /** Sends every watcher a fresh snapshot; the registry calls it when its warm-up ends. */
  broadcastSnapshot(): void {
    for (const watcher of [...this.watchers]) watcher.push(this.snapshotFor(watcher.request.service));
  }

  /**
   * A blocking query (Consul style): resolves once `service` changed after `afterIndex`, at once
   * when it already has or when `afterIndex` lies beyond the catalog's index (the client's index
   * comes from before a registry restart), or after `timeoutMs`, or when `signal` aborts.
   */
  waitForChange(service: string, afterIndex: number, timeoutMs: number, signal: AbortSignal): Promise<WaitOutcome> {
    const { catalog } = this.options;
    if (catalog.serviceIndex(service) > afterIndex || afterIndex > catalog.index) return Promise.resolve('changed');
    if (signal.aborted) return Promise.resolve('aborted');
    return new Promise((resolve) => {
      const finish = (outcome: WaitOutcome) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiters.delete(waiter);
        resolve(outcome);
      };
      const waiter = { service, afterIndex, wake: () => finish('changed') };
      const onAbort = () => finish('aborted');
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Ends every watch stream and wakes every blocking query (shutdown: streams never end on their own). */
  close(): void {
    this.unsubscribe();
    for (const watcher of this.watchers) watcher.close('shutdown');
    this.watchers.clear();
    for (const waiter of [...this.waiters]) waiter.wake();
  }

  private publish(event: CatalogEvent): void {
    this.history.push(event);
    if (this.history.length > this.options.historySize) this.history.shift();
    for (const watcher of [...this.watchers]) if (watcher.wants(event)) watcher.push({ kind: 'event', event });
    for (const waiter of [...this.waiters]) if (waiter.service === event.instance.name && event.index > waiter.afterIndex) waiter.wake();
  }

  /** The events a watcher missed, or undefined when a snapshot is needed instead. */
  private missedSince(request: WatchRequest): CatalogEvent[] | undefined {
    const { afterIndex, service } = request;
    const current = this.options.catalog.index;
    if (afterIndex === undefined || afterIndex > current) return undefined;
    if (afterIndex === current) return [];
    const oldest = this.history[0];
    if (oldest === undefined || afterIndex < oldest.index - 1) return undefined;
    return this.history.filter((event) => event.index > afterIndex && (service === undefined || event.instance.name === service));
  }

  private snapshotFor(service: string | undefined): WatchMessage {
    const { catalog } = this.options;
    const instances = service === undefined ? catalog.all() : catalog.discover(service, { healthyOnly: false });
    return { kind: 'snapshot', index: catalog.index, warming: this.options.isWarming(), instances };
  }

  private drop(watcher: Watcher): void {
    this.watchers.delete(watcher);
    watcher.close('dropped');
    this.logger.warn({ service_name: watcher.request.service ?? '*', buffer_size: this.options.bufferSize }, 'dropped a watcher that could not keep up');
    for (const listener of this.dropListeners) listener();
  }
}
