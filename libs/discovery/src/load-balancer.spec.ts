import { describe, expect, it } from 'vitest';
import { createLoadBalancer, weightOf } from './load-balancer.js';
import type { ServiceInstance } from './service-instance.js';

function instance(id: string, meta: Record<string, string> = {}): ServiceInstance {
  return { id, name: 'svc', address: '127.0.0.1', port: 3000, tags: [], meta, health: 'passing', last_seen: '2025-01-01T00:00:00Z' };
}

/** A deterministic stand-in for Math.random: a small linear congruential generator. */
function seededRandom(seed = 42): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function countPicks(pick: () => ServiceInstance | undefined, times: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < times; i += 1) {
    const id = pick()?.id ?? 'none';
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

const three = [instance('a'), instance('b'), instance('c')];

describe('round_robin', () => {
  it('takes each instance in turn', () => {
    const balancer = createLoadBalancer('round_robin');
    expect(Array.from({ length: 7 }, () => balancer.pick('svc', three)?.id)).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('keeps a separate turn per service', () => {
    const balancer = createLoadBalancer('round_robin');
    const other = [instance('x'), instance('y')];
    expect([
      balancer.pick('svc', three)?.id,
      balancer.pick('other', other)?.id,
      balancer.pick('svc', three)?.id,
      balancer.pick('other', other)?.id,
    ]).toEqual(['a', 'x', 'b', 'y']);
  });

  it('picks nothing from an empty list', () => {
    expect(createLoadBalancer('round_robin').pick('svc', [])).toBeUndefined();
  });
});

describe('random', () => {
  it('maps the random source onto the list', () => {
    const values = [0, 0.34, 0.99];
    const balancer = createLoadBalancer('random', { random: () => values.shift() ?? 0 });
    expect([balancer.pick('svc', three)?.id, balancer.pick('svc', three)?.id, balancer.pick('svc', three)?.id]).toEqual(['a', 'b', 'c']);
  });

  it('spreads picks evenly', () => {
    const balancer = createLoadBalancer('random', { random: seededRandom() });
    const counts = countPicks(() => balancer.pick('svc', three), 30_000);
    for (const id of ['a', 'b', 'c']) expect(counts[id]).toBeGreaterThan(9_400);
  });
});

describe('weighted', () => {
  it('reads meta.weight, defaulting to 1 when missing or invalid', () => {
    expect(weightOf(instance('a', { weight: '3' }))).toBe(3);
    expect(weightOf(instance('a', { weight: '0.5' }))).toBe(0.5);
    expect(weightOf(instance('a', { weight: '0' }))).toBe(0);
    expect(weightOf(instance('a'))).toBe(1);
    expect(weightOf(instance('a', { weight: 'heavy' }))).toBe(1);
    expect(weightOf(instance('a', { weight: '-2' }))).toBe(1);
  });

  it('picks in proportion to the weights', () => {
    const balancer = createLoadBalancer('weighted', { random: seededRandom(7) });
    const weighted = [instance('a', { weight: '1' }), instance('b', { weight: '3' }), instance('c')];
    const counts = countPicks(() => balancer.pick('svc', weighted), 50_000);
    expect((counts['a'] ?? 0) / 50_000).toBeCloseTo(0.2, 1);
    expect((counts['b'] ?? 0) / 50_000).toBeCloseTo(0.6, 1);
    expect((counts['c'] ?? 0) / 50_000).toBeCloseTo(0.2, 1);
  });

  it('maps the random source onto cumulative weights', () => {
    const values = [0, 0.19, 0.2, 0.79, 0.8, 0.999_999];
    const balancer = createLoadBalancer('weighted', { random: () => values.shift() ?? 0 });
    const weighted = [instance('a', { weight: '1' }), instance('b', { weight: '3' }), instance('c', { weight: '1' })];
    expect(Array.from({ length: 6 }, () => balancer.pick('svc', weighted)?.id)).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
  });

  it('never picks an instance of weight 0 while others have weight', () => {
    const balancer = createLoadBalancer('weighted', { random: seededRandom() });
    const counts = countPicks(() => balancer.pick('svc', [instance('a', { weight: '0' }), instance('b')]), 1_000);
    expect(counts).toEqual({ b: 1_000 });
  });

  it('falls back to uniform picks when every weight is 0', () => {
    const balancer = createLoadBalancer('weighted', { random: seededRandom() });
    const counts = countPicks(() => balancer.pick('svc', [instance('a', { weight: '0' }), instance('b', { weight: '0' })]), 10_000);
    expect(counts['a']).toBeGreaterThan(4_500);
    expect(counts['b']).toBeGreaterThan(4_500);
  });
});

describe('least_outstanding', () => {
  it('of two random choices takes the one with fewer calls in flight', () => {
    // Draws: first index, then the offset to the second among the others.
    const values = [0, 0, /* a vs b: both idle -> a */ 0, 0, /* a(1) vs b(0) -> b */ 0.5, 0.99 /* b(1) vs a(1) -> b */];
    const balancer = createLoadBalancer('least_outstanding', { random: () => values.shift() ?? 0 });
    const two = [instance('a'), instance('b')];
    expect(balancer.pick('svc', two)?.id).toBe('a');
    expect(balancer.pick('svc', two)?.id).toBe('b');
    expect(balancer.pick('svc', two)?.id).toBe('b');
  });

  it('always compares two distinct instances', () => {
    const values = [0.99, 0.99];
    const balancer = createLoadBalancer('least_outstanding', { random: () => values.shift() ?? 0 });
    const busy = instance('c');
    // c is busy; the second draw must fall on another instance, which then wins.
    balancer.pick('svc', [busy]);
    expect(balancer.pick('svc', three)?.id).not.toBe('c');
  });

  it('steers load away from an instance whose calls do not return', () => {
    const balancer = createLoadBalancer('least_outstanding', { random: seededRandom(3) });
    const slow = three[0];
    let slowPicks = 0;
    for (let i = 0; i < 3_000; i += 1) {
      const picked = balancer.pick('svc', three);
      if (picked === undefined) throw new Error('nothing picked');
      if (picked.id === slow?.id) slowPicks += 1;
      // Every call completes at once except those to the slow instance, which pile up.
      else balancer.release(picked);
    }
    expect(slowPicks).toBeLessThan(100);
  });

  it('spreads evenly when every call completes', () => {
    const balancer = createLoadBalancer('least_outstanding', { random: seededRandom(11) });
    const counts = countPicks(() => {
      const picked = balancer.pick('svc', three);
      if (picked !== undefined) balancer.release(picked);
      return picked;
    }, 30_000);
    for (const id of ['a', 'b', 'c']) expect(counts[id]).toBeGreaterThan(9_000);
  });

  it('handles a single instance and an empty list', () => {
    const balancer = createLoadBalancer('least_outstanding');
    expect(balancer.pick('svc', [instance('solo')])?.id).toBe('solo');
    expect(balancer.pick('svc', [])).toBeUndefined();
  });
});

it('rejects an unknown strategy', () => {
  expect(() => createLoadBalancer('fastest' as never)).toThrow(RangeError);
});
