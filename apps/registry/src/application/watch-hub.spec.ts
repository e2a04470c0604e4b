import { createLogger } from '@msr/service-defaults';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Catalog } from '../domain/catalog.js';
import type { InstanceRegistration } from '../domain/instance.entity.js';
import { WatchHub, type WatchEndReason, type WatchMessage, type WatchTransport } from './watch-hub.js';

/** A transport that records what it got and reports itself full once `capacity` messages are unread. */
class FakeTransport implements WatchTransport {
  received: WatchMessage[] = [];
  ended: WatchEndReason | undefined;
  unread = 0;
  private drain: (() => void) | undefined;

  constructor(private readonly capacity = Infinity) {}

  send(message: WatchMessage): boolean {
    this.received.push(message);
    this.unread += 1;
    return this.unread < this.capacity;
  }

  onDrain(callback: () => void): void {
    this.drain = callback;
  }

  close(reason: WatchEndReason): void {
    this.ended = reason;
  }

  /** The reader caught up: everything sent so far was read. */
  readAll(): void {
    this.unread = 0;
    this.drain?.();
  }

  /** `type:id` of each message, `snapshot@index[ids]` for snapshots. */
  get summary(): string[] {
    return this.received.map((m) =>
      m.kind === 'snapshot' ? `snapshot@${m.index}[${m.instances.map((i) => i.id).join(',')}]` : `${m.event.type}:${m.event.instance.id}@${m.event.index}`,
    );
  }
}

function registration(id: string, name = 'user-service'): InstanceRegistration {
  return { id, name, address: '127.0.0.1', port: 3000, tags: [], meta: {} };
}

const logger = createLogger({ service: 'test', level: 'silent' });

describe('WatchHub', () => {
  let catalog: Catalog;
  let hub: WatchHub;
  let warming: boolean;

  function newHub(options: { bufferSize?: number; historySize?: number } = {}): WatchHub {
    return new WatchHub({ catalog, logger, bufferSize: options.bufferSize ?? 100, historySize: options.historySize ?? 100, isWarming: () => warming });
  }

  beforeEach(() => {
    catalog = new Catalog({ clock: { now: () => 0 }, deregisterCriticalAfterMs: 60_000, initialIndex: 100 });
    warming = false;
    hub = newHub();
  });

  afterEach(() => {
    hub.close();
    vi.useRealTimers();
  });

  it('starts a new watcher with a snapshot, then sends every change in index order', () => {
    catalog.register(registration('a'));
    const transport = new FakeTransport();
    hub.watch({}, transport);
    catalog.register(registration('b'));
    catalog.register(registration('p', 'payment-service'));
    catalog.deregister('a');
    expect(transport.summary).toEqual(['snapshot@101[a]', 'added:b@102', 'added:p@103', 'removed:a@104']);
  });

  it('gives a service watcher only that service', () => {
    catalog.register(registration('p', 'payment-service'));
    const transport = new FakeTransport();
    hub.watch({ service: 'user-service' }, transport);
    catalog.register(registration('a'));
    catalog.register(registration('q', 'payment-service'));
    expect(transport.summary).toEqual(['snapshot@101[]', 'added:a@102']);
  });

  it('catches a returning watcher up from history instead of a snapshot', () => {
    catalog.register(registration('a'));
    catalog.register(registration('b'));
    catalog.deregister('a');
    const transport = new FakeTransport();
    hub.watch({ afterIndex: 101 }, transport);
    expect(transport.summary).toEqual(['added:b@102', 'removed:a@103']);
    const upToDate = new FakeTransport();
    hub.watch({ afterIndex: 103 }, upToDate);
    expect(upToDate.summary).toEqual([]);
  });

  it('sends a snapshot when the missed events are no longer in the history', () => {
    hub.close();
    hub = newHub({ historySize: 2 });
    for (const id of ['a', 'b', 'c', 'd']) catalog.register(registration(id));
    const transport = new FakeTransport();
    hub.watch({ afterIndex: 101 }, transport);
    expect(transport.summary).toEqual(['snapshot@104[a,b,c,d]']);
  });

  it('sends a snapshot to a watcher whose index comes from another life of the registry', () => {
    catalog.register(registration('a'));
    const transport = new FakeTransport();
    hub.watch({ afterIndex: 9_999 }, transport);
    expect(transport.summary).toEqual(['snapshot@101[a]']);
  });

  it('marks snapshots taken while warming up, and sends everyone a fresh one when asked', () => {
    warming = true;
    const transport = new FakeTransport();
    hub.watch({}, transport);
    catalog.register(registration('a'));
    warming = false;
    hub.broadcastSnapshot();
    expect(transport.received.filter((m) => m.kind === 'snapshot').map((m) => (m.kind === 'snapshot' ? m.warming : undefined))).toEqual([true, false]);
    expect(transport.summary.at(-1)).toBe('snapshot@101[a]');
  });

  it('queues while a transport is full and delivers the backlog in order once it drains', () => {
    const transport = new FakeTransport(2);
    hub.watch({}, transport);
    for (const id of ['a', 'b', 'c']) catalog.register(registration(id));
    expect(transport.summary).toEqual(['snapshot@100[]', 'added:a@101']);
    transport.readAll();
    expect(transport.summary).toEqual(['snapshot@100[]', 'added:a@101', 'added:b@102', 'added:c@103']);
  });

  it('drops a watcher that falls more than its buffer behind, without holding up the others', () => {
    hub.close();
    hub = newHub({ bufferSize: 3 });
    const drops = vi.fn();
    hub.onDrop(drops);
    const slow = new FakeTransport(1);
    const fast = new FakeTransport();
    hub.watch({}, slow);
    hub.watch({}, fast);
    for (const id of ['a', 'b', 'c', 'd']) catalog.register(registration(id));
    expect(slow.ended).toBe('dropped');
    expect(drops).toHaveBeenCalledTimes(1);
    expect(hub.size).toBe(1);
    catalog.register(registration('e'));
    expect(fast.summary).toHaveLength(6);
    expect(slow.summary).toEqual(['snapshot@100[]']);
  });

  it('forgets a watcher whose client left', () => {
    const transport = new FakeTransport();
    const unwatch = hub.watch({}, transport);
    unwatch();
    catalog.register(registration('a'));
    expect(transport.ended).toBe('unwatched');
    expect(hub.size).toBe(0);
    expect(transport.summary).toEqual(['snapshot@100[]']);
  });

  it('ends every stream on close', () => {
    const transport = new FakeTransport();
    hub.watch({}, transport);
    hub.close();
    expect(transport.ended).toBe('shutdown');
  });

  describe('blocking queries', () => {
    it('answers at once when the service changed after the given index', async () => {
      catalog.register(registration('a'));
      await expect(hub.waitForChange('user-service', 100, 10_000, new AbortController().signal)).resolves.toBe('changed');
    });

    it('answers at once when the index lies beyond the catalog (a client from before a restart)', async () => {
      await expect(hub.waitForChange('user-service', 5_000, 10_000, new AbortController().signal)).resolves.toBe('changed');
    });

    it('waits for a change to that service, not to others', async () => {
      catalog.register(registration('a'));
      let outcome: string | undefined;
      void hub.waitForChange('user-service', 101, 10_000, new AbortController().signal).then((o) => (outcome = o));
      catalog.register(registration('p', 'payment-service'));
      await Promise.resolve();
      expect(outcome).toBeUndefined();
      catalog.deregister('a');
      await vi.waitFor(() => expect(outcome).toBe('changed'));
    });

    it('gives up after the wait time, or when the client leaves', async () => {
      vi.useFakeTimers();
      const timedOut = hub.waitForChange('user-service', 100, 30_000, new AbortController().signal);
      await vi.advanceTimersByTimeAsync(30_000);
      await expect(timedOut).resolves.toBe('timeout');
      const leaving = new AbortController();
      const aborted = hub.waitForChange('user-service', 100, 30_000, leaving.signal);
      leaving.abort();
      await expect(aborted).resolves.toBe('aborted');
    });
  });
});
