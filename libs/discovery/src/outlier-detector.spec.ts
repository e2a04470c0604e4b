import { CallTimeoutError } from '@msr/circuit-breaker';
import { createLogger } from '@msr/service-defaults';
import { Registry } from 'prom-client';
import { beforeEach, describe, expect, it } from 'vitest';
import { OutlierDetector, outlierFailureOf } from './outlier-detector.js';
import type { ServiceInstance } from './service-instance.js';

function instance(id: string, port: number, name = 'svc'): ServiceInstance {
  return { id, name, address: '127.0.0.1', port, tags: [], meta: {}, health: 'passing', last_seen: '2025-01-01T00:00:00Z' };
}

const logger = createLogger({ service: 'test', level: 'silent' });
const [a, b, c, d] = [instance('a', 1), instance('b', 2), instance('c', 3), instance('d', 4)] as const;
const ids = (list: readonly ServiceInstance[]) => list.map((i) => i.id);

describe('OutlierDetector', () => {
  let clock: number;
  let detector: OutlierDetector;

  beforeEach(() => {
    clock = 1_000_000;
    detector = new OutlierDetector({ logger, now: () => clock, policy: { consecutiveFailures: 3, baseEjectionMs: 1_000, maxEjectionMs: 10_000 } });
    detector.available('svc', [a, b, c, d]);
  });

  it('ejects an instance that refuses a connection at once, for the base ejection time', () => {
    expect(detector.recordFailure(b, 'connect_refused')).toBe(true);
    expect(ids(detector.available('svc', [a, b, c, d]))).toEqual(['a', 'c', 'd']);
    clock += 999;
    expect(detector.isEjected(b)).toBe(true);
    clock += 1;
    expect(ids(detector.available('svc', [a, b, c, d]))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('ejects on a reset connection at once too', () => {
    expect(detector.recordFailure(c, 'connection_reset')).toBe(true);
    expect(detector.isEjected(c)).toBe(true);
  });

  it('ejects after the configured run of 5xx answers or timeouts, and a success breaks the run', () => {
    expect(detector.recordFailure(a, 'server_error')).toBe(false);
    expect(detector.recordFailure(a, 'timeout')).toBe(false);
    detector.recordSuccess(a);
    expect(detector.recordFailure(a, 'server_error')).toBe(false);
    expect(detector.recordFailure(a, 'server_error')).toBe(false);
    expect(detector.recordFailure(a, 'timeout')).toBe(true);
    expect(ids(detector.available('svc', [a, b, c, d]))).toEqual(['b', 'c', 'd']);
  });

  it('ejects for longer each time, up to the maximum', () => {
    const ejectionLengths: number[] = [];
    for (let round = 0; round < 12; round += 1) {
      detector.recordFailure(a, 'connect_refused');
      const started = clock;
      while (detector.isEjected(a)) clock += 100;
      ejectionLengths.push(clock - started);
      detector.available('svc', [a, b, c, d]);
    }
    expect(ejectionLengths.slice(0, 4)).toEqual([1_000, 2_000, 3_000, 4_000]);
    expect(ejectionLengths.at(-1)).toBe(10_000);
  });

  it('shortens ejections again once an instance has behaved for a while', () => {
    for (let round = 0; round < 3; round += 1) {
      detector.recordFailure(a, 'connect_refused');
      clock += 10_000;
      detector.available('svc', [a, b, c, d]);
    }
    // Three ejections so far; two quiet spells of the maximum ejection time take two off the count.
    clock += 20_000;
    detector.recordFailure(a, 'connect_refused');
    const started = clock;
    while (detector.isEjected(a)) clock += 100;
    expect(clock - started).toBe(2_000);
  });

  it('never ejects more than half of a service', () => {
    expect(detector.recordFailure(a, 'connect_refused')).toBe(true);
    expect(detector.recordFailure(b, 'connect_refused')).toBe(true);
    expect(detector.recordFailure(c, 'connect_refused')).toBe(false);
    expect(ids(detector.available('svc', [a, b, c, d]))).toEqual(['c', 'd']);
  });

  it('never ejects the only instance', () => {
    detector.available('solo', [instance('s', 9, 'solo')]);
    expect(detector.recordFailure(instance('s', 9, 'solo'), 'connect_refused')).toBe(false);
  });

  it('offers ejected instances again, soonest back first, when the list shrinks below the limit', () => {
    detector.recordFailure(a, 'connect_refused');
    clock += 10;
    detector.recordFailure(b, 'connect_refused');
    // The registry dropped c and d: two of two would be ejected, one may be.
    expect(ids(detector.available('svc', [a, b]))).toEqual(['a']);
    expect(detector.isEjected(a)).toBe(true);
  });

  it('keeps services apart', () => {
    const other = instance('x', 1, 'other');
    detector.available('other', [other, instance('y', 2, 'other')]);
    detector.recordFailure(other, 'connect_refused');
    expect(ids(detector.available('svc', [a, b, c, d]))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('counts ejections in metrics', async () => {
    const metrics = new Registry();
    const withMetrics = new OutlierDetector({ logger, now: () => clock, metricsRegistry: metrics });
    withMetrics.available('svc', [a, b]);
    withMetrics.recordFailure(a, 'connect_refused');
    const text = await metrics.metrics();
    expect(text).toContain('discovery_outlier_ejections_total{service_name="svc",failure="connect_refused"} 1');
    expect(text).toContain('discovery_outlier_ejected_instances{service_name="svc"} 1');
    expect(() => new OutlierDetector({ logger, metricsRegistry: metrics })).not.toThrow();
  });

  it('refuses a nonsensical policy', () => {
    expect(() => new OutlierDetector({ logger, policy: { consecutiveFailures: 0 } })).toThrow(RangeError);
    expect(() => new OutlierDetector({ logger, policy: { baseEjectionMs: 5_000, maxEjectionMs: 1_000 } })).toThrow(RangeError);
    expect(() => new OutlierDetector({ logger, policy: { maxEjectionPercent: 101 } })).toThrow(RangeError);
  });
});

describe('outlierFailureOf', () => {
  const coded = (code: string) => Object.assign(new Error(code), { code });

  it.each([
    ['ECONNREFUSED', 'connect_refused'],
    ['EHOSTUNREACH', 'connect_refused'],
    ['ECONNRESET', 'connection_reset'],
    ['UND_ERR_SOCKET', 'connection_reset'],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
  ])('reads %s as %s, also as the cause of another error', (code, failure) => {
    expect(outlierFailureOf(coded(code))).toBe(failure);
    expect(outlierFailureOf(new Error('wrapped', { cause: coded(code) }))).toBe(failure);
  });

  it('reads a breaker timeout as a timeout, and says nothing about other errors', () => {
    expect(outlierFailureOf(new CallTimeoutError('svc', 100))).toBe('timeout');
    expect(outlierFailureOf(new Error('no code'))).toBeUndefined();
    expect(outlierFailureOf('not an error')).toBeUndefined();
  });
});
