import { createLogger } from '@msr/service-defaults';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RegistryError } from './errors.js';
import type { DiscoveryAnswer, LookupOptions, RegistryWatchEvent, WatchOptions } from './registry-client.js';
import { ServiceDiscovery } from './service-discovery.js';
import type { InstanceHealth, ServiceInstance } from './service-instance.js';

function instance(id: string, health: InstanceHealth = 'passing', name = 'svc'): ServiceInstance {
  return { id, name, address: '127.0.0.1', port: 3000, tags: [], meta: {}, health, last_seen: '2025-01-01T00:00:00Z' };
}

/** A registry stand-in whose answers the test sets; `down` makes every call fail like an unreachable registry. */
class FakeRegistry {
  lists = new Map<string, ServiceInstance[]>();
  down = false;
  calls = 0;

  async discover(name: string): Promise<ServiceInstance[]> {
    this.calls += 1;
    await Promise.resolve();
    if (this.down) throw new RegistryError('GET /v1/services/x/discover failed: connect ECONNREFUSED');
    return this.lists.get(name) ?? [];
  }
}

const logger = createLogger({ service: 'test', level: 'silent' });

describe('ServiceDiscovery', () => {
  const discoveries: ServiceDiscovery[] = [];
  let clock = 1_000_000;

  function create(registry: FakeRegistry, metricsRegistry?: Registry): ServiceDiscovery {
    // A refresh interval no test waits for: tests call refreshAll() themselves.
    const discovery = new ServiceDiscovery({ registry, logger, refreshIntervalMs: 3_600_000, now: () => clock, ...(metricsRegistry ? { metricsRegistry } : {}) });
    discoveries.push(discovery);
    return discovery;
  }

  afterEach(() => {
    for (const discovery of discoveries.splice(0)) discovery.close();
  });

  it('fetches on the first call and answers later calls from the cache', async () => {
    const registry = new FakeRegistry();
    registry.lists.set('svc', [instance('a')]);
    const discovery = create(registry);
    expect((await discovery.instances('svc')).map((i) => i.id)).toEqual(['a']);
    registry.lists.set('svc', [instance('a'), instance('b')]);
    expect((await discovery.instances('svc')).map((i) => i.id)).toEqual(['a']);
    expect(registry.calls).toBe(1);
  });

  it('shares one fetch between concurrent first calls', async () => {
    const registry = new FakeRegistry();
    const discovery = create(registry);
    await Promise.all([discovery.instances('svc'), discovery.instances('svc'), discovery.instances('svc')]);
    expect(registry.calls).toBe(1);
  });

  it('picks up changes on refresh', async () => {
    const registry = new FakeRegistry();
    registry.lists.set('svc', [instance('a')]);
    const discovery = create(registry);
    await discovery.instances('svc');
    registry.lists.set('svc', [instance('b')]);
    await discovery.refreshAll();
    expect((await discovery.instances('svc')).map((i) => i.id)).toEqual(['b']);
  });

  it('keeps serving the last good list while the registry is unreachable', async () => {
    const registry = new FakeRegistry();
    registry.lists.set('svc', [instance('a'), instance('b')]);
    const discovery = create(registry);
    await discovery.instances('svc');
    registry.down = true;
    await discovery.refreshAll();
    await discovery.refreshAll();
    expect((await discovery.instances('svc')).map((i) => i.id)).toEqual(['a', 'b']);
  });

  it('accepts an empty list from a reachable registry (every instance gone is news, not an outage)', async () => {
    const registry = new FakeRegistry();
    registry.lists.set('svc', [instance('a')]);
    const discovery = create(registry);
    await discovery.instances('svc');
    registry.lists.set('svc', []);
    await discovery.refreshAll();
    expect(await discovery.instances('svc')).toEqual([]);
  });

  it('fails the first call when the registry is unreachable, and tries again on the next', async () => {
    const registry = new FakeRegistry();
    registry.down = true;
    const discovery = create(registry);
    await expect(discovery.instances('svc')).rejects.toBeInstanceOf(RegistryError);
    registry.down = false;
    registry.lists.set('svc', [instance('a')]);
    expect((await discovery.instances('svc')).map((i) => i.id)).toEqual(['a']);
  });

  it('reports how stale the cached list is while refreshes fail', async () => {
    const registry = new FakeRegistry();
    const metrics = new Registry();
    const discovery = create(registry, metrics);
    await discovery.instances('svc');
    expect(discovery.stalenessSeconds('svc')).toBe(0);
    registry.down = true;
    clock += 12_000;
    await discovery.refreshAll();
    expect(discovery.stalenessSeconds('svc')).toBe(12);
    const text = await metrics.metrics();
    expect(text).toContain('discovery_cache_staleness_seconds{service_name="svc"} 12');
    expect(text).toContain('discovery_refresh_failures_total{service_name="svc"} 1');
    registry.down = false;
    clock += 1_000;
    await discovery.refreshAll();
    expect(discovery.stalenessSeconds('svc')).toBe(0);
  });

  it('lets two discoveries share one metrics registry', () => {
    const metrics = new Registry();
    create(new FakeRegistry(), metrics);
    expect(() => create(new FakeRegistry(), metrics)).not.toThrow();
  });

  it('refreshes on its own timer', async () => {
    const registry = new FakeRegistry();
    registry.lists.set('svc', [instance('a')]);
    const discovery = new ServiceDiscovery({ registry, logger, refreshIntervalMs: 20 });
    discoveries.push(discovery);
    await discovery.instances('svc');
    registry.lists.set('svc', [instance('b')]);
    const deadline = Date.now() + 2_000;
    while ((await discovery.instances('svc'))[0]?.id !== 'b') {
      if (Date.now() > deadline) throw new Error('the cache was never refreshed');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
});

/** One watch stream the test feeds by hand. */
class FakeStream {
  private readonly queue: Array<RegistryWatchEvent | Error | 'end'> = [];
  private wake: (() => void) | undefined;

  constructor(readonly options: WatchOptions) {}

  push(item: RegistryWatchEvent | Error | 'end'): void {
    this.queue.push(item);
    this.wake?.();
  }

  async *events(): AsyncGenerator<RegistryWatchEvent> {
    for (;;) {
      while (this.queue.length === 0) {
        if (this.options.signal.aborted) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.options.signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
      const item = this.queue.shift() as RegistryWatchEvent | Error | 'end';
      if (item === 'end') return;
      if (item instanceof Error) throw item;
      yield item;
    }
  }
}

/** A registry stand-in with indexes, warm-up and a watch stream the test drives. */
class WatchingRegistry {
  instances: ServiceInstance[] = [];
  index = 100;
  warming = false;
  down = false;
  watchStatus = 200;
  streams: FakeStream[] = [];
  /** Holds lookups until released, to let stream events overtake them. */
  hold: Promise<void> | undefined;

  async discover(): Promise<ServiceInstance[]> {
    throw new Error('lookup should be used');
  }

  async lookup(name: string, options: LookupOptions = {}): Promise<DiscoveryAnswer> {
    const answer: DiscoveryAnswer = {
      instances: this.instances.filter((i) => i.name === name && (options.healthyOnly === false || i.health === 'passing')),
      index: this.index,
      warming: this.warming,
    };
    await this.hold;
    if (this.down) throw new RegistryError('connect ECONNREFUSED');
    return answer;
  }

  watch(options: WatchOptions): AsyncIterable<RegistryWatchEvent> {
    if (this.watchStatus !== 200) {
      const status = this.watchStatus;
      return (async function* () {
        yield* [];
        throw new RegistryError(`watch answered ${status}`, status);
      })();
    }
    const stream = new FakeStream(options);
    this.streams.push(stream);
    stream.push({ type: 'open', index: this.index, warming: this.warming });
    return stream.events();
  }

  get stream(): FakeStream {
    const stream = this.streams.at(-1);
    if (stream === undefined) throw new Error('no stream opened');
    return stream;
  }

  event(type: 'added' | 'updated' | 'removed', changed: ServiceInstance): RegistryWatchEvent {
    this.index += 1;
    return { type, index: this.index, service: changed.name, instance: changed };
  }
}

describe('ServiceDiscovery with the registry\'s watch stream', () => {
  const discoveries: ServiceDiscovery[] = [];
  let clock = 5_000_000;

  function create(registry: WatchingRegistry, metricsRegistry?: Registry): ServiceDiscovery {
    const discovery = new ServiceDiscovery({ registry, logger, refreshIntervalMs: 3_600_000, now: () => clock, ...(metricsRegistry ? { metricsRegistry } : {}) });
    discoveries.push(discovery);
    return discovery;
  }

  async function ids(discovery: ServiceDiscovery, name = 'svc'): Promise<string[]> {
    return (await discovery.instances(name)).map((i) => i.id);
  }

  afterEach(() => {
    for (const discovery of discoveries.splice(0)) discovery.close();
  });

  it('applies added, updated and removed events to the cache as they arrive', async () => {
    const registry = new WatchingRegistry();
    registry.instances = [instance('a'), instance('b')];
    const discovery = create(registry);
    expect(await ids(discovery)).toEqual(['a', 'b']);
    await vi.waitFor(() => expect(discovery.watchConnected).toBe(true));
    registry.stream.push(registry.event('added', instance('c')));
    await vi.waitFor(async () => expect(await ids(discovery)).toEqual(['a', 'b', 'c']));
    registry.stream.push(registry.event('updated', instance('a', 'critical')));
    registry.stream.push(registry.event('removed', instance('b')));
    registry.stream.push(registry.event('added', instance('o', 'passing', 'other')));
    await vi.waitFor(async () => expect(await ids(discovery)).toEqual(['c']));
    registry.stream.push(registry.event('updated', instance('a')));
    await vi.waitFor(async () => expect(await ids(discovery)).toEqual(['c', 'a']));
  });

  it('leaves out instances the registry lists as critical', async () => {
    const registry = new WatchingRegistry();
    registry.instances = [instance('a'), instance('b', 'critical')];
    expect(await ids(create(registry))).toEqual(['a']);
  });

  it('ignores a fetched answer older than what the stream delivered, and replays newer events over an older answer', async () => {
    const registry = new WatchingRegistry();
    registry.instances = [instance('a')];
    const discovery = create(registry);
    await ids(discovery);
    await vi.waitFor(() => expect(discovery.watchConnected).toBe(true));
    // A refresh is answered at index 100 but arrives only after the stream delivered 101 and 102.
    let release: () => void = () => undefined;
    registry.hold = new Promise((resolve) => (release = resolve));
    const refreshing = discovery.refreshAll();
    registry.stream.push(registry.event('added', instance('b')));
    registry.stream.push(registry.event('removed', instance('a')));
    await vi.waitFor(async () => expect(await ids(discovery)).toEqual(['b']));
    release();
    await refreshing;
    expect(await ids(discovery)).toEqual(['b']);
  });

  it('catches a service fetched for the first time up with events that overtook the answer', async () => {
    const registry = new WatchingRegistry();
    registry.instances = [instance('x', 'passing', 'other')];
    const discovery = create(registry);
    await ids(discovery, 'other');
    await vi.waitFor(() => expect(discovery.watchConnected).toBe(true));
    registry.instances.push(instance('a'));
    let release: () => void = () => undefined;
    registry.hold = new Promise((resolve) => (release = resolve));
    const first = ids(discovery);
    registry.stream.push(registry.event('added', instance('b')));
    await new Promise((resolve) => setTimeout(resolve, 10));
    release();
    expect(await first).toEqual(['a', 'b']);
  });

  it('replaces the cache from a snapshot, but keeps unknown instances while the registry warms up', async () => {
    const registry = new WatchingRegistry();
    registry.instances = [instance('a'), instance('b'), instance('c')];
    const discovery = create(registry);
    await ids(discovery);
    await vi.waitFor(() => expect(discovery.watchConnected).toBe(true));
    registry.stream.push({ type: 'snapshot', index: 500, warming: true, instances: [instance('b', 'critical'), instance('d')] });
    await vi.waitFor(async () => expect(await ids(discovery)).toEqual(['a', 'c', 'd']));
    registry.stream.push({ type: 'snapshot', index: 501, warming: false, instances: [instance('d'), instance('e')] });
    await vi.waitFor(async () => expect(await ids(discovery)).toEqual(['d', 'e']));
  });

  it('keeps unknown instances when a fetched answer says the registry is warming up', async () => {
    const registry = new WatchingRegistry();
    registry.instances = [instance('a'), instance('b')];
    const discovery = create(registry);
    await ids(discovery);
    registry.instances = [instance('b')];
    registry.index = 900;
    registry.warming = true;
    await discovery.refreshAll();
    expect(await ids(discovery)).toEqual(['a', 'b']);
    registry.warming = false;
    await discovery.refreshAll();
    expect(await ids(discovery)).toEqual(['b']);
  });

  it('reconnects after the stream ends, resuming from the last index seen', async () => {
    const registry = new WatchingRegistry();
    registry.instances = [instance('a')];
    const discovery = create(registry);
    await ids(discovery);
    await vi.waitFor(() => expect(registry.streams).toHaveLength(1));
    registry.stream.push(registry.event('added', instance('b')));
    registry.stream.push('end');
    await vi.waitFor(() => expect(registry.streams).toHaveLength(2), { timeout: 2_000 });
    expect(registry.streams[1]?.options.index).toBe(101);
    expect(registry.streams[0]?.options.index).toBeUndefined();
  });

  it('reports zero staleness while the stream is up, and counts from its loss while the registry is down', async () => {
    const registry = new WatchingRegistry();
    registry.instances = [instance('a')];
    const discovery = create(registry);
    await ids(discovery);
    await vi.waitFor(() => expect(discovery.watchConnected).toBe(true));
    clock += 60_000;
    expect(discovery.stalenessSeconds('svc')).toBe(0);
    registry.down = true;
    registry.stream.push(new RegistryError('socket closed'));
    await vi.waitFor(() => expect(discovery.watchConnected).toBe(false));
    clock += 7_000;
    await discovery.refreshAll();
    expect(discovery.stalenessSeconds('svc')).toBe(7);
    expect(await ids(discovery)).toEqual(['a']);
  });

  it('falls back to refreshing alone when the registry has no watch endpoint', async () => {
    const registry = new WatchingRegistry();
    registry.watchStatus = 404;
    registry.instances = [instance('a')];
    const discovery = create(registry);
    expect(await ids(discovery)).toEqual(['a']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(discovery.watchConnected).toBe(false);
    registry.instances = [instance('b')];
    await discovery.refreshAll();
    expect(await ids(discovery)).toEqual(['b']);
  });

  it('stops the stream on close', async () => {
    const registry = new WatchingRegistry();
    const discovery = create(registry);
    await ids(discovery);
    await vi.waitFor(() => expect(discovery.watchConnected).toBe(true));
    discovery.close();
    expect(registry.stream.options.signal.aborted).toBe(true);
  });
});
