import { beforeEach, describe, expect, it } from 'vitest';
import { Catalog, type CatalogEvent } from './catalog.js';
import type { Clock } from './clock.js';
import type { HealthCheckDefinition } from './health-check.value-object.js';
import type { InstanceRegistration } from './instance.entity.js';
import { InstanceLimitError, InstanceNotFoundError } from './registry.errors.js';

class FakeClock implements Clock {
  constructor(private current = Date.parse('2025-01-01T00:00:00Z')) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

const httpCheck: HealthCheckDefinition = {
  id: 'check',
  name: 'http',
  target: { kind: 'http', url: 'http://10.0.0.1:3001/health' },
  intervalMs: 1_000,
  timeoutMs: 500,
};

function registration(overrides: Partial<InstanceRegistration> = {}): InstanceRegistration {
  return { id: 'users-1', name: 'user-service', address: '10.0.0.1', port: 3001, tags: [], meta: {}, ...overrides };
}

describe('Catalog', () => {
  let clock: FakeClock;
  let catalog: Catalog;
  let events: CatalogEvent[];

  beforeEach(() => {
    clock = new FakeClock();
    catalog = new Catalog({ clock, deregisterCriticalAfterMs: 30_000 });
    events = [];
    catalog.subscribe((event) => events.push(event));
  });

  describe('registration and discovery', () => {
    it('registers an instance as passing, seen now', () => {
      const instance = catalog.register(registration({ tags: ['v1'], meta: { version: '1.0.0' } }));
      expect(instance).toMatchObject({ id: 'users-1', health: 'passing', lastSeenAt: clock.now(), tags: ['v1'] });
      expect(catalog.discover('user-service', { healthyOnly: true }).map((i) => i.id)).toEqual(['users-1']);
    });

    it('returns only the named service, in registration order', () => {
      catalog.register(registration({ id: 'a' }));
      catalog.register(registration({ id: 'o', name: 'order-service' }));
      catalog.register(registration({ id: 'b' }));
      expect(catalog.discover('user-service', { healthyOnly: false }).map((i) => i.id)).toEqual(['a', 'b']);
    });

    it('answers an unknown service with no instances', () => {
      expect(catalog.discover('nobody', { healthyOnly: false })).toEqual([]);
    });

    it('replaces an instance registered again under the same id, fresh and passing', () => {
      const first = catalog.register(registration({ check: httpCheck }));
      catalog.recordCheckResult('users-1', first.generation, false);
      const second = catalog.register(registration({ port: 4001, check: httpCheck }));
      expect(catalog.all()).toHaveLength(1);
      expect(second).toMatchObject({ port: 4001, health: 'passing' });
      expect(second.generation).toBeGreaterThan(first.generation);
      expect(events.map((e) => e.type)).toEqual(['added', 'updated', 'updated']);
    });

    it('removes a deregistered instance and reports unknown ids', () => {
      catalog.register(registration());
      catalog.deregister('users-1');
      expect(catalog.discover('user-service', { healthyOnly: false })).toEqual([]);
      expect(() => catalog.deregister('users-1')).toThrow(InstanceNotFoundError);
      expect(() => catalog.heartbeat('users-1')).toThrow(InstanceNotFoundError);
    });

    it('numbers events with an index that grows by one per change', () => {
      catalog.register(registration({ id: 'a' }));
      catalog.register(registration({ id: 'b' }));
      catalog.deregister('a');
      expect(events.map((e) => [e.type, e.index])).toEqual([
        ['added', 1],
        ['added', 2],
        ['removed', 3],
      ]);
      expect(catalog.index).toBe(3);
    });

    it('summarises services with instance counts and health totals', () => {
      const a = catalog.register(registration({ id: 'a', tags: ['v1'], check: httpCheck }));
      catalog.register(registration({ id: 'b', tags: ['v2'] }));
      catalog.register(registration({ id: 'p', name: 'payment-service' }));
      catalog.recordCheckResult('a', a.generation, false);
      expect(catalog.summaries()).toEqual([
        { name: 'payment-service', instances: 1, health: { passing: 1, warning: 0, critical: 0 }, tags: [] },
        { name: 'user-service', instances: 2, health: { passing: 1, warning: 0, critical: 1 }, tags: ['v1', 'v2'] },
      ]);
    });
  });

  describe('leases', () => {
    it('keeps an instance whose heartbeats arrive within the TTL', () => {
      catalog.register(registration({ ttlMs: 10_000 }));
      for (let i = 0; i < 5; i += 1) {
        clock.advance(9_000);
        catalog.heartbeat('users-1');
        expect(catalog.sweep()).toEqual([]);
      }
      expect(catalog.get('users-1')?.lastSeenAt).toBe(clock.now());
    });

    it('removes an instance whose lease lapsed', () => {
      catalog.register(registration({ ttlMs: 10_000 }));
      clock.advance(9_999);
      expect(catalog.sweep()).toEqual([]);
      clock.advance(1);
      expect(catalog.sweep().map((i) => i.id)).toEqual(['users-1']);
      expect(events.at(-1)).toMatchObject({ type: 'removed', reason: 'lease_expired' });
      expect(() => catalog.heartbeat('users-1')).toThrow(InstanceNotFoundError);
    });

    it('never expires an instance registered without a TTL', () => {
      catalog.register(registration());
      clock.advance(365 * 24 * 3_600_000);
      expect(catalog.sweep()).toEqual([]);
    });

    it('gives the default lease only to registrations with neither a TTL nor a check', () => {
      catalog = new Catalog({ clock, deregisterCriticalAfterMs: 30_000, defaultTtlMs: 5_000 });
      catalog.register(registration({ id: 'bare' }));
      catalog.register(registration({ id: 'checked', check: httpCheck }));
      catalog.register(registration({ id: 'own-ttl', ttlMs: 60_000 }));
      clock.advance(5_000);
      expect(catalog.sweep().map((i) => i.id)).toEqual(['bare']);
    });
  });

  describe('health', () => {
    it('moves an instance out of healthy answers as soon as a check fails, and back when it passes', () => {
      const { generation } = catalog.register(registration({ check: httpCheck }));
      catalog.recordCheckResult('users-1', generation, false, 'HTTP 503');
      expect(catalog.discover('user-service', { healthyOnly: true })).toEqual([]);
      expect(catalog.discover('user-service', { healthyOnly: false })[0]).toMatchObject({
        health: 'critical',
        lastCheckOutput: 'HTTP 503',
        criticalSince: clock.now(),
      });
      catalog.recordCheckResult('users-1', generation, true);
      expect(catalog.discover('user-service', { healthyOnly: true }).map((i) => i.id)).toEqual(['users-1']);
      expect(events.filter((e) => e.type === 'updated').map((e) => e.instance.health)).toEqual(['critical', 'passing']);
    });

    it('emits no event when a result does not change the health', () => {
      const { generation } = catalog.register(registration({ check: httpCheck }));
      catalog.recordCheckResult('users-1', generation, true);
      expect(events.map((e) => e.type)).toEqual(['added']);
    });

    it('applies the configured thresholds', () => {
      catalog = new Catalog({ clock, deregisterCriticalAfterMs: 30_000, thresholds: { failuresBeforeCritical: 2, successesBeforePassing: 2 } });
      const { generation } = catalog.register(registration({ check: httpCheck }));
      catalog.recordCheckResult('users-1', generation, false);
      expect(catalog.get('users-1')?.health).toBe('passing');
      catalog.recordCheckResult('users-1', generation, false);
      expect(catalog.get('users-1')?.health).toBe('critical');
      catalog.recordCheckResult('users-1', generation, true);
      expect(catalog.get('users-1')?.health).toBe('critical');
      catalog.recordCheckResult('users-1', generation, true);
      expect(catalog.get('users-1')?.health).toBe('passing');
    });

    it('drops a result that belongs to an earlier registration of the same id', () => {
      const first = catalog.register(registration({ check: httpCheck }));
      catalog.register(registration({ check: httpCheck }));
      catalog.recordCheckResult('users-1', first.generation, false);
      expect(catalog.get('users-1')?.health).toBe('passing');
    });

    it('deregisters an instance that stayed critical for the configured time', () => {
      const { generation } = catalog.register(registration({ check: httpCheck }));
      catalog.recordCheckResult('users-1', generation, false);
      clock.advance(29_999);
      catalog.recordCheckResult('users-1', generation, false);
      expect(catalog.sweep()).toEqual([]);
      clock.advance(1);
      expect(catalog.sweep().map((i) => i.id)).toEqual(['users-1']);
      expect(events.at(-1)).toMatchObject({ type: 'removed', reason: 'critical_timeout' });
    });

    it('restarts the critical clock after the instance passed in between', () => {
      const { generation } = catalog.register(registration({ check: httpCheck }));
      catalog.recordCheckResult('users-1', generation, false);
      clock.advance(20_000);
      catalog.recordCheckResult('users-1', generation, true);
      catalog.recordCheckResult('users-1', generation, false);
      clock.advance(20_000);
      expect(catalog.sweep()).toEqual([]);
    });

    it('keeps the seen time at the last passing check', () => {
      const { generation } = catalog.register(registration({ check: httpCheck }));
      const registeredAt = clock.now();
      clock.advance(1_000);
      catalog.recordCheckResult('users-1', generation, false);
      expect(catalog.get('users-1')?.lastSeenAt).toBe(registeredAt);
      clock.advance(1_000);
      catalog.recordCheckResult('users-1', generation, true);
      expect(catalog.get('users-1')?.lastSeenAt).toBe(registeredAt + 2_000);
    });
  });

  describe('indexes', () => {
    it('counts from the initial index, and tracks the latest change of each service', () => {
      catalog = new Catalog({ clock, deregisterCriticalAfterMs: 30_000, initialIndex: 1_000 });
      expect(catalog.index).toBe(1_000);
      expect(catalog.serviceIndex('user-service')).toBe(1_000);
      catalog.register(registration({ id: 'u1' }));
      catalog.register(registration({ id: 'o1', name: 'order-service' }));
      catalog.register(registration({ id: 'u2' }));
      expect(catalog.index).toBe(1_003);
      expect(catalog.serviceIndex('user-service')).toBe(1_003);
      expect(catalog.serviceIndex('order-service')).toBe(1_002);
      catalog.deregister('o1');
      expect(catalog.serviceIndex('order-service')).toBe(1_004);
    });
  });

  describe('instance limit', () => {
    it('refuses a new instance beyond the maximum per service, but lets existing ones re-register', () => {
      catalog = new Catalog({ clock, deregisterCriticalAfterMs: 30_000, maxInstancesPerService: 2 });
      catalog.register(registration({ id: 'a' }));
      catalog.register(registration({ id: 'b' }));
      expect(() => catalog.register(registration({ id: 'c' }))).toThrow(InstanceLimitError);
      expect(() => catalog.register(registration({ id: 'b', port: 4000 }))).not.toThrow();
      expect(() => catalog.register(registration({ id: 'p', name: 'payment-service' }))).not.toThrow();
      expect(catalog.discover('user-service', { healthyOnly: false }).map((i) => i.id)).toEqual(['a', 'b']);
    });
  });

  describe('per-check policies', () => {
    it('uses a check\'s own thresholds over the catalog\'s', () => {
      const { generation } = catalog.register(registration({ check: { ...httpCheck, thresholds: { failuresBeforeCritical: 3 } } }));
      catalog.recordCheckResult('users-1', generation, false);
      catalog.recordCheckResult('users-1', generation, false);
      expect(catalog.get('users-1')?.health).toBe('passing');
      catalog.recordCheckResult('users-1', generation, false);
      expect(catalog.get('users-1')?.health).toBe('critical');
      // successesBeforePassing came from the catalog's default (1).
      catalog.recordCheckResult('users-1', generation, true);
      expect(catalog.get('users-1')?.health).toBe('passing');
    });

    it('deregisters a critical instance after its own deregister time', () => {
      const { generation } = catalog.register(registration({ check: { ...httpCheck, deregisterCriticalAfterMs: 5_000 } }));
      catalog.recordCheckResult('users-1', generation, false);
      clock.advance(4_999);
      expect(catalog.sweep()).toEqual([]);
      clock.advance(1);
      expect(catalog.sweep().map((i) => i.id)).toEqual(['users-1']);
    });
  });

  describe('self-preservation', () => {
    function leased(count: number): void {
      for (let i = 0; i < count; i += 1) catalog.register(registration({ id: `i${i}`, port: 3000 + i, ttlMs: 10_000 }));
    }

    it('evicts a lone lapsed lease while the others heartbeat', () => {
      leased(4);
      clock.advance(8_000);
      for (const id of ['i1', 'i2', 'i3']) catalog.heartbeat(id);
      clock.advance(2_000);
      expect(catalog.sweep().map((i) => i.id)).toEqual(['i0']);
      expect(catalog.selfPreservation.active).toBe(false);
    });

    it('stops evicting when more than half of the leased instances miss heartbeats at once, and resumes once they are back', () => {
      leased(4);
      clock.advance(10_000);
      expect(catalog.sweep()).toEqual([]);
      expect(catalog.selfPreservation).toMatchObject({ active: true, since: clock.now(), leased: 4, missing: 4, suppressedEvictions: 4 });
      expect(catalog.all()).toHaveLength(4);
      for (const id of ['i0', 'i1', 'i2']) catalog.heartbeat(id);
      expect(catalog.sweep().map((i) => i.id)).toEqual(['i3']);
      expect(catalog.selfPreservation).toMatchObject({ active: false, suppressedEvictions: 0 });
    });

    it('counts an instance silent for half its TTL as missing, before its lease lapses', () => {
      leased(4);
      clock.advance(5_000);
      catalog.heartbeat('i0');
      catalog.sweep();
      expect(catalog.selfPreservation).toMatchObject({ active: true, missing: 3 });
    });

    it('never triggers with fewer leased instances than the minimum', () => {
      leased(2);
      clock.advance(10_000);
      expect(catalog.sweep()).toHaveLength(2);
    });

    it('can be turned off with a threshold of 1', () => {
      catalog = new Catalog({ clock, deregisterCriticalAfterMs: 30_000, selfPreservation: { threshold: 1, minInstances: 1 } });
      leased(5);
      clock.advance(10_000);
      expect(catalog.sweep()).toHaveLength(5);
    });
  });

  describe('filters and service info', () => {
    beforeEach(() => {
      catalog.register(registration({ id: 'u1', tags: ['api', 'v1'], meta: { version: '1.0.0', zone: 'a' } }));
      catalog.register(registration({ id: 'u2', tags: ['api', 'v2'], meta: { version: '2.0.0', zone: 'a' }, check: httpCheck }));
      catalog.register(registration({ id: 'u3', tags: ['api', 'v2'], meta: { version: '2.0.0', zone: 'b' } }));
      catalog.register(registration({ id: 'p1', name: 'payment-service', tags: ['v1'] }));
      catalog.recordCheckResult('u2', catalog.get('u2')?.generation ?? -1, false);
    });

    it('discovers only instances with every tag and metadata value asked for', () => {
      const ids = (filter: Parameters<Catalog['discover']>[1]['filter']) => catalog.discover('user-service', { healthyOnly: false, filter }).map((i) => i.id);
      expect(ids({ tags: ['v2'] })).toEqual(['u2', 'u3']);
      expect(ids({ tags: ['api', 'v1'] })).toEqual(['u1']);
      expect(ids({ meta: { version: '2.0.0', zone: 'b' } })).toEqual(['u3']);
      expect(ids({ tags: ['v3'] })).toEqual([]);
      expect(catalog.discover('user-service', { healthyOnly: true, filter: { tags: ['v2'] } }).map((i) => i.id)).toEqual(['u3']);
    });

    it('summarises only matching instances, leaving out services with none', () => {
      expect(catalog.summaries({ tags: ['v2'] })).toEqual([
        { name: 'user-service', instances: 2, health: { passing: 1, warning: 0, critical: 1 }, tags: ['api', 'v2'] },
      ]);
    });

    it('describes one service with aggregated health, versions and metadata', () => {
      expect(catalog.serviceInfo('user-service')).toEqual({
        name: 'user-service',
        instances: 3,
        health: { passing: 2, warning: 0, critical: 1 },
        tags: ['api', 'v1', 'v2'],
        aggregatedHealth: 'warning',
        versions: ['1.0.0', '2.0.0'],
        meta: { version: ['1.0.0', '2.0.0'], zone: ['a', 'b'] },
        index: catalog.serviceIndex('user-service'),
      });
      expect(catalog.serviceInfo('user-service', { meta: { version: '1.0.0' } })).toMatchObject({ instances: 1, aggregatedHealth: 'passing', versions: ['1.0.0'] });
      expect(catalog.serviceInfo('user-service', { tags: ['nope'] })).toMatchObject({ instances: 0, aggregatedHealth: 'critical' });
      expect(catalog.serviceInfo('nobody')).toBeUndefined();
    });
  });
});
