import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, createLogger, Health, listen, loadConfig, Metrics } from '@msr/service-defaults';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { configSchema } from './config.js';
import { createRegistryRuntime, type RegistryRuntime } from './registry-runtime.js';

/** A tiny service whose /health answers what the test says, or hangs. */
class FakeService {
  healthStatus = 200;
  hang = false;
  private readonly server: Server = createServer((req, res) => {
    if (this.hang) return;
    res.statusCode = req.url === '/health' ? this.healthStatus : 404;
    res.end();
  });

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function eventually(assertion: () => Promise<void>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

describe('active health checks and leases against real sockets', () => {
  let runtime: RegistryRuntime;
  let server: Server;
  let baseUrl: string;
  const services: FakeService[] = [];

  beforeAll(async () => {
    const logger = createLogger({ service: 'registry', level: 'silent' });
    const metrics = new Metrics('registry');
    runtime = createRegistryRuntime({
      config: loadConfig(configSchema, { SWEEP_INTERVAL_MS: '50', DEREGISTER_CRITICAL_AFTER_MS: '600', HEALTH_FAILURES_BEFORE_CRITICAL: '1', WARMUP_MS: '0' }),
      logger,
      metricsRegistry: metrics.registry,
    });
    runtime.start();
    const listening = await listen(createApp({ logger, health: new Health(), metrics, registry: runtime.service, hub: runtime.hub }), 0, '127.0.0.1');
    server = listening.server;
    baseUrl = `http://127.0.0.1:${listening.port}`;
  });

  afterAll(async () => {
    await closeServer(server);
    await runtime.stop();
  });

  afterEach(async () => {
    await Promise.all(services.splice(0).map((service) => service.stop()));
    for (const instance of runtime.catalog.all()) runtime.catalog.deregister(instance.id);
  });

  async function startService(): Promise<{ service: FakeService; port: number }> {
    const service = new FakeService();
    services.push(service);
    return { service, port: await service.start() };
  }

  async function register(body: unknown): Promise<void> {
    const response = await fetch(`${baseUrl}/v1/services`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(201);
  }

  async function healthyIds(name: string): Promise<string[]> {
    const response = await fetch(`${baseUrl}/v1/services/${name}/discover?healthy=true`);
    return ((await response.json()) as Array<{ id: string }>).map((instance) => instance.id);
  }

  it('turns an instance critical when its /health starts failing, and passing when it recovers', async () => {
    const { service, port } = await startService();
    await register({
      service: { id: 'web-1', name: 'web', address: '127.0.0.1', port },
      health_check: { http: `http://127.0.0.1:${port}/health`, interval: '50ms', timeout: '500ms' },
    });
    expect(await healthyIds('web')).toEqual(['web-1']);

    service.healthStatus = 503;
    await eventually(async () => expect(await healthyIds('web')).toEqual([]));
    expect(runtime.catalog.get('web-1')).toMatchObject({ health: 'critical', lastCheckOutput: 'HTTP 503' });

    service.healthStatus = 200;
    await eventually(async () => expect(await healthyIds('web')).toEqual(['web-1']));
  });

  it('resolves a seed 000 path check against the instance and fails it on a timeout', async () => {
    const { service, port } = await startService();
    await register({
      service: { id: 'slow-1', name: 'slow', address: '127.0.0.1', port },
      health_check: { http: '/health', interval: 50_000_000, timeout: 100_000_000 },
    });
    service.hang = true;
    await eventually(async () => expect(await healthyIds('slow')).toEqual([]));
    expect(runtime.catalog.get('slow-1')?.lastCheckOutput).toBe('timed out after 100 ms');
  });

  it('fails a TCP check once nothing listens on the port', async () => {
    const { service, port } = await startService();
    await register({
      service: { id: 'db-1', name: 'db', address: '127.0.0.1', port },
      health_check: { tcp: `127.0.0.1:${port}`, interval: '50ms', timeout: '500ms' },
    });
    await eventually(async () => expect(runtime.catalog.get('db-1')?.lastSeenAt).toBeGreaterThan(runtime.catalog.get('db-1')?.registeredAt ?? Infinity));
    expect(await healthyIds('db')).toEqual(['db-1']);
    await service.stop();
    services.splice(services.indexOf(service), 1);
    await eventually(async () => expect(await healthyIds('db')).toEqual([]));
    expect(runtime.catalog.get('db-1')?.lastCheckOutput).toContain('ECONNREFUSED');
  });

  it('deregisters an instance that stays critical longer than the configured time', async () => {
    const { service, port } = await startService();
    service.healthStatus = 500;
    await register({
      service: { id: 'dying-1', name: 'dying', address: '127.0.0.1', port },
      health_check: { http: '/health', interval: '50ms', timeout: '500ms' },
    });
    await eventually(async () => expect(runtime.catalog.get('dying-1')?.health).toBe('critical'));
    const criticalAt = Date.now();
    await eventually(async () => expect(runtime.catalog.get('dying-1')).toBeUndefined());
    expect(Date.now() - criticalAt).toBeGreaterThanOrEqual(500);
  });

  it('removes an instance whose heartbeats stop once its lease lapses', async () => {
    await register({ service: { id: 'leased-1', name: 'leased', address: '127.0.0.1', port: 9 }, ttl: '300ms' });
    for (let i = 0; i < 4; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await fetch(`${baseUrl}/v1/services/leased-1/heartbeat`, { method: 'PUT' })).status).toBe(200);
    }
    expect(await healthyIds('leased')).toEqual(['leased-1']);
    await eventually(async () => expect(await healthyIds('leased')).toEqual([]));
    expect((await fetch(`${baseUrl}/v1/services/leased-1/heartbeat`, { method: 'PUT' })).status).toBe(404);
  });
});
