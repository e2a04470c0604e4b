import { createLogger } from '@msr/service-defaults';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Catalog } from '../domain/catalog.js';
import type { CheckTarget } from '../domain/health-check.value-object.js';
import type { InstanceRegistration } from '../domain/instance.entity.js';
import { HealthCheckScheduler } from './health-check.scheduler.js';
import type { HealthProbe, ProbeResult } from './health-probe.port.js';

/** A probe whose checks stay pending until the test settles them. */
class ControlledProbe implements HealthProbe {
  calls: Array<{ target: CheckTarget; settle: (result: ProbeResult) => void }> = [];

  probe(target: CheckTarget): Promise<ProbeResult> {
    return new Promise((resolve) => this.calls.push({ target, settle: resolve }));
  }
}

function registration(url: string, intervalMs = 1_000): InstanceRegistration {
  return {
    id: 'web-1',
    name: 'web',
    address: '127.0.0.1',
    port: 8080,
    tags: [],
    meta: {},
    check: { id: 'c', name: 'c', target: { kind: 'http', url }, intervalMs, timeoutMs: 100 },
  };
}

describe('HealthCheckScheduler', () => {
  let catalog: Catalog;
  let probe: ControlledProbe;
  let scheduler: HealthCheckScheduler;

  beforeEach(() => {
    vi.useFakeTimers();
    catalog = new Catalog({ clock: { now: () => Date.now() }, deregisterCriticalAfterMs: 60_000 });
    probe = new ControlledProbe();
    scheduler = new HealthCheckScheduler(catalog, probe, createLogger({ service: 'test', level: 'silent' }));
    scheduler.start();
  });

  afterEach(async () => {
    for (const call of probe.calls) call.settle({ passed: true });
    await scheduler.stop();
    vi.useRealTimers();
  });

  it('runs the first check one interval after registration', async () => {
    catalog.register(registration('http://a/health'));
    await vi.advanceTimersByTimeAsync(999);
    expect(probe.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(probe.calls).toHaveLength(1);
  });

  it('feeds results to the catalog and keeps checking at the interval', async () => {
    catalog.register(registration('http://a/health'));
    await vi.advanceTimersByTimeAsync(1_000);
    probe.calls[0]?.settle({ passed: false, output: 'HTTP 500' });
    await vi.advanceTimersByTimeAsync(0);
    expect(catalog.get('web-1')?.health).toBe('critical');
    await vi.advanceTimersByTimeAsync(1_000);
    probe.calls[1]?.settle({ passed: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(catalog.get('web-1')?.health).toBe('passing');
  });

  it('never overlaps checks of one instance', async () => {
    catalog.register(registration('http://a/health'));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(probe.calls).toHaveLength(1);
    probe.calls[0]?.settle({ passed: true });
    await vi.advanceTimersByTimeAsync(999);
    expect(probe.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(probe.calls).toHaveLength(2);
  });

  it('stops checking an instance once it is removed', async () => {
    catalog.register(registration('http://a/health'));
    await vi.advanceTimersByTimeAsync(1_000);
    catalog.deregister('web-1');
    probe.calls[0]?.settle({ passed: true });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(probe.calls).toHaveLength(1);
    expect(scheduler.size).toBe(0);
  });

  it('restarts with the new check when the instance registers again', async () => {
    catalog.register(registration('http://old/health'));
    await vi.advanceTimersByTimeAsync(1_000);
    catalog.register(registration('http://new/health', 500));
    probe.calls[0]?.settle({ passed: false });
    await vi.advanceTimersByTimeAsync(500);
    expect(probe.calls.map((call) => (call.target.kind === 'http' ? call.target.url : ''))).toEqual(['http://old/health', 'http://new/health']);
    // The old check's failure arrived after the re-registration and was dropped.
    expect(catalog.get('web-1')?.health).toBe('passing');
  });

  it('checks instances already in the catalog when started', async () => {
    await scheduler.stop();
    catalog.register(registration('http://a/health'));
    await vi.advanceTimersByTimeAsync(2_000);
    expect(probe.calls).toHaveLength(0);
    scheduler.start();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(probe.calls).toHaveLength(1);
  });
});
