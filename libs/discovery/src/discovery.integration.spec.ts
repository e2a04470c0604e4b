import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { BreakerRegistry } from '@msr/circuit-breaker';
import { createLogger } from '@msr/service-defaults';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { LoadBalancingStrategy } from './load-balancer.js';
import { OutlierDetector } from './outlier-detector.js';
import { RegistryClient, type HealthCheckOptions, type Registration, type RegistryWatchEvent } from './registry-client.js';
import { ServiceDiscovery } from './service-discovery.js';
import { ServiceHttpClient, type ServiceHttpClientOptions } from './service-http-client.js';

const workspaceRoot = path.resolve(import.meta.dirname, '../../..');

/**
 * The registry app as a separate process, run from source (a lib may not import an app, and a
 * real process is what services talk to). Resolves once it logged the port it listens on.
 */
class RegistryProcess {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly port: number,
  ) {}

  static start(port = 0, env: Record<string, string> = {}): Promise<RegistryProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/registry/src/main.ts'], {
      cwd: workspaceRoot,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        SWEEP_INTERVAL_MS: '50',
        HEALTH_FAILURES_BEFORE_CRITICAL: '1',
        WARMUP_MS: '0',
        TSX_TSCONFIG_PATH: 'apps/registry/tsconfig.json',
        ...env,
      },
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('registry did not start within 15 s')), 15_000);
      child.once('exit', (code) => reject(new Error(`registry exited with ${code} before it started`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        let entry: { msg?: string; port?: number };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          return;
        }
        if (entry.msg === 'registry started' && entry.port !== undefined) {
          clearTimeout(timer);
          resolve(new RegistryProcess(child, entry.port));
        }
      });
      child.stderr.resume();
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => {
      this.child.once('exit', (code) => resolve(code));
      this.child.kill('SIGTERM');
    });
  }
}

/**
 * A tiny service instance: `/health` and `/hello` answering who served it. Tests can make its
 * health check fail, make it reset connections on `/hello`, or slow `/hello` down.
 */
class TinyService {
  private readonly server: Server;
  port = 0;
  healthStatus = 200;
  healthChecks = 0;
  reset = false;
  delayMs = 0;
  hits = 0;

  constructor(readonly id: string) {
    this.server = createServer((req, res) => {
      if (req.url === '/health') {
        this.healthChecks += 1;
        res.writeHead(this.healthStatus, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      this.hits += 1;
      if (this.reset) {
        req.socket.destroy();
        return;
      }
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ served_by: this.id }));
      if (this.delayMs > 0) setTimeout(answer, this.delayMs);
      else answer();
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms (last value ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const logger = createLogger({ service: 'test', level: 'silent' });

/** Collects a watch stream's messages until aborted. */
function collect(client: RegistryClient, options: { service?: string } = {}): { events: RegistryWatchEvent[]; stop: () => void } {
  const controller = new AbortController();
  const events: RegistryWatchEvent[] = [];
  void (async () => {
    for await (const event of client.watch({ ...options, signal: controller.signal })) events.push(event);
  })().catch(() => undefined);
  return { events, stop: () => controller.abort() };
}

describe('discovery against the real registry process', () => {
  let registry: RegistryProcess;
  let client: RegistryClient;
  const services: TinyService[] = [];
  const registrations: Registration[] = [];
  const closers: Array<() => unknown> = [];

  beforeAll(async () => {
    registry = await RegistryProcess.start();
    client = new RegistryClient({ registryUrl: registry.url, logger, timeoutMs: 1_000 });
  });

  afterEach(async () => {
    await Promise.all(registrations.splice(0).map((registration) => registration.deregister().catch(() => undefined)));
    await Promise.all(closers.splice(0).map((close) => close()));
    await Promise.all(services.splice(0).map((service) => service.stop()));
  });

  afterAll(async () => {
    expect(await registry.stop()).toBe(0);
  });

  async function startAndRegister(
    id: string,
    options: { ttlMs?: number; name?: string; meta?: Record<string, string>; check?: Partial<HealthCheckOptions> } = {},
  ): Promise<{ service: TinyService; registration: Registration }> {
    const service = await new TinyService(id).start();
    services.push(service);
    const registration = await client.register({
      id,
      name: options.name ?? 'tiny',
      address: '127.0.0.1',
      port: service.port,
      ttlMs: options.ttlMs ?? 3_000,
      meta: options.meta ?? {},
      healthCheck: { http: `http://127.0.0.1:${service.port}/health`, intervalMs: 100, timeoutMs: 500, ...options.check },
    });
    registrations.push(registration);
    return { service, registration };
  }

  function httpClient(discovery: ServiceDiscovery, overrides: Partial<ServiceHttpClientOptions> = {}): ServiceHttpClient {
    const http = new ServiceHttpClient({
      discovery,
      breakers: new BreakerRegistry({ logger }),
      strategy: 'round_robin',
      logger,
      timeoutMs: 1_000,
      ...overrides,
    });
    closers.push(() => http.close());
    return http;
  }

  function newDiscovery(refreshIntervalMs = 100, metricsRegistry?: Registry): ServiceDiscovery {
    const discovery = new ServiceDiscovery({ registry: client, logger, refreshIntervalMs, ...(metricsRegistry === undefined ? {} : { metricsRegistry }) });
    closers.push(() => discovery.close());
    return discovery;
  }

  it('registers two instances, discovers them, round-robins between them, survives one stopping, deregisters', async () => {
    const { service: first } = await startAndRegister('tiny-1');
    const { registration: second } = await startAndRegister('tiny-2');
    const discovery = newDiscovery();
    expect((await discovery.instances('tiny')).map((i) => i.id).sort()).toEqual(['tiny-1', 'tiny-2']);

    const http = httpClient(discovery);
    const servedBy = [];
    for (let i = 0; i < 4; i += 1) servedBy.push((await http.request<{ served_by: string }>('tiny', { method: 'GET', path: '/hello' })).body.served_by);
    expect(new Set(servedBy)).toEqual(new Set(['tiny-1', 'tiny-2']));
    expect(servedBy[0]).not.toBe(servedBy[1]);
    expect(servedBy[2]).toBe(servedBy[0]);

    await first.stop();
    for (let i = 0; i < 10; i += 1) {
      const answer = await http.request<{ served_by: string }>('tiny', { method: 'GET', path: '/hello' });
      expect(answer).toMatchObject({ status: 200, body: { served_by: 'tiny-2' } });
    }
    // The registry's health check notices, and the watch stream takes the stopped instance out of the cache.
    await eventually(() => discovery.instances('tiny'), (list) => list.length === 1 && list[0]?.id === 'tiny-2');

    await second.deregister();
    expect(await client.discover('tiny', { healthyOnly: false })).toEqual(
      expect.not.arrayContaining([expect.objectContaining({ id: 'tiny-2' })]),
    );
  });

  it('streams watch events in index order: registration, health changes, deregistration', async () => {
    const watch = collect(client, { service: 'tiny' });
    closers.push(watch.stop);
    await eventually(async () => watch.events, (events) => events.some((e) => e.type === 'snapshot'));
    const { service } = await startAndRegister('tiny-w1');
    const { registration } = await startAndRegister('tiny-w2');
    service.healthStatus = 503;
    await eventually(async () => watch.events, (events) => events.some((e) => e.type === 'updated' && e.instance.health === 'critical'));
    await registration.deregister();
    await eventually(async () => watch.events, (events) => events.some((e) => e.type === 'removed'));
    const changes = watch.events.filter((e): e is Extract<RegistryWatchEvent, { service: string }> => e.type !== 'open' && e.type !== 'snapshot');
    expect(changes.map((e) => `${e.type}:${e.instance.id}:${e.instance.health}`)).toEqual([
      'added:tiny-w1:passing',
      'added:tiny-w2:passing',
      'updated:tiny-w1:critical',
      'removed:tiny-w2:passing',
    ]);
    const indexes = changes.map((e) => e.index);
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    expect(new Set(indexes).size).toBe(indexes.length);
  });

  it('removes an instance whose heartbeats stop once its lease lapses', async () => {
    const watch = collect(client, { service: 'tiny' });
    closers.push(watch.stop);
    // Registered by hand, as a crashed client would have: nobody heartbeats.
    const response = await fetch(`${registry.url}/v1/services`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: { id: 'tiny-lease', name: 'tiny', address: '127.0.0.1', port: 9 }, ttl: '400ms' }),
    });
    expect(response.status).toBe(201);
    const registeredAt = Date.now();
    await eventually(async () => watch.events, (events) => events.some((e) => e.type === 'removed' && e.instance.id === 'tiny-lease'), 3_000);
    expect(Date.now() - registeredAt).toBeGreaterThanOrEqual(380);
    expect(watch.events.find((e) => e.type === 'removed')).toMatchObject({ reason: 'lease_expired' });
    expect(await client.discover('tiny', { healthyOnly: false })).toEqual([]);
  });

  it('turns an instance critical only after the failure threshold, and passing again only after the success threshold', async () => {
    const { service } = await startAndRegister('tiny-t', { check: { intervalMs: 50, failuresBeforeCritical: 3, successesBeforePassing: 2 } });
    await eventually(async () => service.healthChecks, (checks) => checks >= 1);
    const watch = collect(client, { service: 'tiny' });
    closers.push(watch.stop);
    await eventually(async () => watch.events, (events) => events.some((e) => e.type === 'snapshot'));

    const checksBeforeFailing = service.healthChecks;
    service.healthStatus = 500;
    await eventually(async () => watch.events, (events) => events.some((e) => e.type === 'updated' && e.instance.health === 'critical'));
    expect(service.healthChecks - checksBeforeFailing).toBeGreaterThanOrEqual(3);
    expect(await client.discover('tiny')).toEqual([]);

    const checksBeforeRecovering = service.healthChecks;
    service.healthStatus = 200;
    await eventually(async () => watch.events, (events) => events.some((e) => e.type === 'updated' && e.instance.health === 'passing'));
    expect(service.healthChecks - checksBeforeRecovering).toBeGreaterThanOrEqual(2);
    expect((await client.discover('tiny')).map((i) => i.id)).toEqual(['tiny-t']);
  });

  it('spreads calls by each strategy: round robin evenly, random about evenly, weighted by meta.weight, least outstanding away from a slow instance', async () => {
    const started = await Promise.all(['1', '2', '3'].map((weight, i) => startAndRegister(`tiny-s${i + 1}`, { meta: { weight } })));
    const discovery = newDiscovery();
    const countBy = async (strategy: LoadBalancingStrategy, calls: number, concurrency = 1): Promise<Record<string, number>> => {
      const http = httpClient(discovery, { strategy });
      const counts: Record<string, number> = { 'tiny-s1': 0, 'tiny-s2': 0, 'tiny-s3': 0 };
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < calls) {
            next += 1;
            const { body } = await http.request<{ served_by: string }>('tiny', { method: 'GET', path: '/hello' });
            counts[body.served_by] = (counts[body.served_by] ?? 0) + 1;
          }
        }),
      );
      return counts;
    };
    expect(await countBy('round_robin', 300)).toEqual({ 'tiny-s1': 100, 'tiny-s2': 100, 'tiny-s3': 100 });
    for (const count of Object.values(await countBy('random', 300))) {
      expect(count).toBeGreaterThan(60);
      expect(count).toBeLessThan(140);
    }
    const weighted = await countBy('weighted', 300);
    expect(weighted['tiny-s1']).toBeGreaterThan(15);
    expect(weighted['tiny-s1']).toBeLessThan(85);
    expect(weighted['tiny-s2']).toBeGreaterThan(65);
    expect(weighted['tiny-s2']).toBeLessThan(135);
    expect(weighted['tiny-s3']).toBeGreaterThan(115);
    expect(weighted['tiny-s3']).toBeLessThan(185);
    const slow = started[0]?.service;
    if (slow === undefined) throw new Error('three instances expected');
    slow.delayMs = 40;
    const leastOutstanding = await countBy('least_outstanding', 300, 8);
    // Even share would be 100; the instance holding calls 40 ms gets clearly fewer.
    expect(leastOutstanding['tiny-s1']).toBeLessThan(60);
  });

  it('ejects an instance that resets connections at once, with no failed call, and takes it back after the ejection time', async () => {
    const { service: flaky } = await startAndRegister('tiny-e1');
    await startAndRegister('tiny-e2');
    await startAndRegister('tiny-e3');
    flaky.reset = true;
    const outliers = new OutlierDetector({ logger, policy: { baseEjectionMs: 500 } });
    const http = httpClient(newDiscovery(), { outliers });
    for (let i = 0; i < 12; i += 1) expect((await http.request<{ served_by: string }>('tiny', { method: 'GET', path: '/hello' })).body.served_by).not.toBe('tiny-e1');
    expect(flaky.hits).toBe(1);
    // It still passes the registry's health check: only the calls showed it is sick.
    expect((await client.discover('tiny')).map((i) => i.id)).toContain('tiny-e1');
    flaky.reset = false;
    const servedBy = await eventually(
      async () => (await http.request<{ served_by: string }>('tiny', { method: 'GET', path: '/hello' })).body.served_by,
      (id) => id === 'tiny-e1',
      3_000,
    );
    expect(servedBy).toBe('tiny-e1');
  });

  it('answers bad input with 400 problem+json and keeps nothing of it', async () => {
    const post = (body: string) => fetch(`${registry.url}/v1/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const cases: Array<[string, string]> = [
      ['{"service": ', 'REQUEST.MALFORMED_JSON'],
      [JSON.stringify({ service: { name: 'bad', address: '127.0.0.1', port: 70_000 } }), 'service.port'],
      [JSON.stringify({ service: { address: '127.0.0.1', port: 1 } }), 'service.name'],
      [JSON.stringify({ service: { name: 'bad', address: '127.0.0.1', port: 1 }, health_check: { http: '/health', interval: '-5s' } }), 'health_check.interval'],
      [JSON.stringify({ service: { name: 'bad', address: '127.0.0.1', port: 1 }, ttl: '48h' }), 'ttl'],
    ];
    for (const [body, named] of cases) {
      const response = await post(body);
      expect(response.status, body).toBe(400);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(await response.text()).toContain(named);
    }
    expect((await fetch(`${registry.url}/v1/services/bad/discover?index=x`)).status).toBe(400);
    expect(await client.discover('bad', { healthyOnly: false })).toEqual([]);
  });

  it('keeps serving calls from the cache while the registry is down, and refills a restarted registry within one heartbeat', async () => {
    await startAndRegister('tiny-a', { ttlMs: 900 });
    const metrics = new Registry();
    const discovery = newDiscovery(100, metrics);
    const http = httpClient(discovery);
    expect((await discovery.instances('tiny')).map((i) => i.id)).toEqual(['tiny-a']);
    await eventually(async () => discovery.watchConnected, (connected) => connected);

    const port = registry.port;
    expect(await registry.stop()).toBe(0);
    await eventually(async () => discovery.watchConnected, (connected) => !connected);
    await discovery.refreshAll();
    expect((await discovery.instances('tiny')).map((i) => i.id)).toEqual(['tiny-a']);
    expect((await http.request('tiny', { method: 'GET', path: '/hello' })).status).toBe(200);
    await eventually(async () => discovery.stalenessSeconds('tiny') ?? 0, (seconds) => seconds > 0);
    await discovery.refreshAll();
    expect(await metrics.getSingleMetricAsString('discovery_refresh_failures_total')).toMatch(/discovery_refresh_failures_total\{service_name="tiny"\} [1-9]/);

    registry = await RegistryProcess.start(port);
    const restartedAt = Date.now();
    await eventually(() => client.discover('tiny'), (list) => list.some((i) => i.id === 'tiny-a'), 3_000);
    // Heartbeats run every 300 ms (ttl / 3): the first one after the restart gets 404 and re-registers.
    expect(Date.now() - restartedAt).toBeLessThan(1_000);
    await eventually(async () => discovery.watchConnected, (connected) => connected, 5_000);
    expect(discovery.stalenessSeconds('tiny')).toBe(0);
  });

  it('keeps instances that have not re-registered yet while a restarted registry warms up, and drops them once it has', async () => {
    await startAndRegister('tiny-fast', { ttlMs: 300 });
    // Registered by hand, as a client that does not heartbeat (seed 000's): a restarted registry never hears of it again.
    const ghost = await fetch(`${registry.url}/v1/services`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: { id: 'tiny-ghost', name: 'tiny', address: '127.0.0.1', port: 9 } }),
    });
    expect(ghost.status).toBe(201);
    const discovery = newDiscovery(100);
    expect((await discovery.instances('tiny')).map((i) => i.id).sort()).toEqual(['tiny-fast', 'tiny-ghost']);

    const port = registry.port;
    expect(await registry.stop()).toBe(0);
    registry = await RegistryProcess.start(port, { WARMUP_MS: '2500' });
    const restartedAt = Date.now();
    await eventually(() => client.discover('tiny'), (list) => list.length === 1 && list[0]?.id === 'tiny-fast', 3_000);
    await discovery.refreshAll();
    expect((await discovery.instances('tiny')).map((i) => i.id).sort()).toEqual(['tiny-fast', 'tiny-ghost']);
    // The warm-up ends: the registry's answers are complete, and the cache follows them.
    await eventually(() => discovery.instances('tiny'), (list) => list.length === 1 && list[0]?.id === 'tiny-fast', 4_000);
    expect(Date.now() - restartedAt).toBeGreaterThanOrEqual(2_000);
  });
});

describe('a registry with a token', () => {
  const token = 'integration-test-token-0123456789';
  let registry: RegistryProcess;

  beforeAll(async () => {
    registry = await RegistryProcess.start(0, { REGISTRY_TOKEN: token });
  });

  afterAll(async () => {
    expect(await registry.stop()).toBe(0);
  });

  it('lets a client with the token register and heartbeat, refuses one without, and keeps reads open', async () => {
    const withToken = new RegistryClient({ registryUrl: registry.url, logger, token });
    const registration = await withToken.register({ id: 'secured-1', name: 'secured', address: '127.0.0.1', port: 9, ttlMs: 300 });
    const anonymous = new RegistryClient({ registryUrl: registry.url, logger });
    await expect(anonymous.register({ id: 'intruder', name: 'secured', address: '127.0.0.1', port: 9, ttlMs: 60_000 })).rejects.toMatchObject({
      name: 'RegistryError',
      status: 401,
    });
    // Reads need no token; heartbeats (every 100 ms) keep the 300 ms lease alive.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await anonymous.discover('secured')).map((i) => i.id)).toEqual(['secured-1']);
    await registration.deregister();
    expect(await anonymous.discover('secured', { healthyOnly: false })).toEqual([]);
  });
});
