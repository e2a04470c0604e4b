import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BreakerOpenError, BreakerRegistry, CallTimeoutError } from '@msr/circuit-breaker';
import { createLogger, runWithLogContext } from '@msr/service-defaults';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NoHealthyInstanceError, RegistryError } from './errors.js';
import type { InstanceSource } from './service-discovery.js';
import { OutlierDetector } from './outlier-detector.js';
import { ServiceHttpClient, type ServiceHttpClientOptions } from './service-http-client.js';
import type { ServiceInstance } from './service-instance.js';

interface Echo {
  served_by: string;
  method: string;
  path: string;
  body: unknown;
  request_id: string | null;
  content_type: string | null;
}

/** A real HTTP server standing in for one instance: echoes the request, or answers `status`, or hangs. */
class TestInstance {
  status = 200;
  hang = false;
  /** Reset the connection instead of answering. */
  reset = false;
  hits = 0;
  private readonly server: Server;
  port = 0;

  constructor(readonly id: string) {
    this.server = createServer(async (req, res) => {
      this.hits += 1;
      let text = '';
      for await (const chunk of req) text += String(chunk);
      if (this.hang) return;
      if (this.reset) {
        req.socket.destroy();
        return;
      }
      const echo: Echo = {
        served_by: this.id,
        method: req.method ?? '',
        path: req.url ?? '',
        body: text === '' ? null : (JSON.parse(text) as unknown),
        request_id: (req.headers['x-request-id'] as string | undefined) ?? null,
        content_type: req.headers['content-type'] ?? null,
      };
      res.writeHead(this.status, { 'content-type': 'application/json', 'x-served-by': this.id }).end(JSON.stringify(echo));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get instance(): ServiceInstance {
    return { id: this.id, name: 'echo', address: '127.0.0.1', port: this.port, tags: [], meta: {}, health: 'passing', last_seen: new Date().toISOString() };
  }
}

/** A fixed list standing in for ServiceDiscovery. */
function staticSource(instances: () => ServiceInstance[]): InstanceSource {
  return { instances: async () => instances() };
}

const logger = createLogger({ service: 'test', level: 'silent' });

describe('ServiceHttpClient', () => {
  const running: TestInstance[] = [];
  const clients: ServiceHttpClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(running.splice(0).map((instance) => instance.stop().catch(() => undefined)));
  });

  async function startInstances(count: number): Promise<TestInstance[]> {
    const started = await Promise.all(Array.from({ length: count }, (_, i) => new TestInstance(`echo-${i + 1}`).start()));
    running.push(...started);
    return started;
  }

  function client(instances: TestInstance[], overrides: Partial<ServiceHttpClientOptions> = {}): ServiceHttpClient {
    const created = new ServiceHttpClient({
      discovery: staticSource(() => instances.map((i) => i.instance)),
      breakers: new BreakerRegistry({ logger, policy: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 } }),
      strategy: 'round_robin',
      logger,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
      ...overrides,
    });
    clients.push(created);
    return created;
  }

  it('round-robins between instances and returns status, headers, JSON body and the instance', async () => {
    const instances = await startInstances(2);
    const http = client(instances);
    const answers = [];
    for (let i = 0; i < 4; i += 1) answers.push(await http.request<Echo>('echo', { method: 'GET', path: '/things?x=1' }));
    expect(answers.map((a) => a.body.served_by)).toEqual(['echo-1', 'echo-2', 'echo-1', 'echo-2']);
    expect(answers[0]).toMatchObject({ status: 200, instance: { id: 'echo-1' }, body: { method: 'GET', path: '/things?x=1' } });
    expect(answers[0]?.headers['x-served-by']).toBe('echo-1');
  });

  it('sends bodies as JSON', async () => {
    const http = client(await startInstances(1));
    const answer = await http.request<Echo>('echo', { method: 'POST', path: '/orders', body: { sku: 'A-1', quantity: 2 } });
    expect(answer.body).toMatchObject({ method: 'POST', body: { sku: 'A-1', quantity: 2 }, content_type: 'application/json' });
  });

  it('forwards the request id of the current log context', async () => {
    const http = client(await startInstances(1));
    const answer = await runWithLogContext({ request_id: 'req-123' }, () => http.request<Echo>('echo', { method: 'GET', path: '/' }));
    expect(answer.body.request_id).toBe('req-123');
    const explicit = await runWithLogContext({ request_id: 'req-123' }, () =>
      http.request<Echo>('echo', { method: 'GET', path: '/', headers: { 'X-Request-Id': 'mine' } }),
    );
    expect(explicit.body.request_id).toBe('mine');
  });

  it('retries an idempotent request on the other instance when one is down', async () => {
    const instances = await startInstances(2);
    const http = client(instances);
    await instances[0]?.stop();
    for (let i = 0; i < 4; i += 1) {
      const answer = await http.request<Echo>('echo', { method: 'GET', path: '/' });
      expect(answer.body.served_by).toBe('echo-2');
    }
  });

  it('retries even a POST elsewhere when the connection was refused (nothing was sent)', async () => {
    const instances = await startInstances(2);
    const http = client(instances);
    await instances[0]?.stop();
    const answer = await http.request<Echo>('echo', { method: 'POST', path: '/', body: {} });
    expect(answer.body.served_by).toBe('echo-2');
  });

  it('retries an idempotent request that got 503 on another instance', async () => {
    const instances = await startInstances(2);
    const first = instances[0];
    if (first) first.status = 503;
    const answer = await client(instances).request<Echo>('echo', { method: 'GET', path: '/' });
    expect(answer).toMatchObject({ status: 200, body: { served_by: 'echo-2' } });
  });

  it('returns a 5xx to a non-idempotent request without retrying it', async () => {
    const instances = await startInstances(2);
    const first = instances[0];
    if (first) first.status = 503;
    const answer = await client(instances).request<Echo>('echo', { method: 'POST', path: '/', body: {} });
    expect(answer).toMatchObject({ status: 503, body: { served_by: 'echo-1' } });
    expect(instances[1]?.hits).toBe(0);
  });

  it('returns 4xx answers as they are', async () => {
    const instances = await startInstances(2);
    for (const instance of instances) instance.status = 404;
    const answer = await client(instances).request<Echo>('echo', { method: 'GET', path: '/missing' });
    expect(answer.status).toBe(404);
    expect(instances.reduce((sum, i) => sum + i.hits, 0)).toBe(1);
  });

  it('returns the last 5xx when every attempt failed', async () => {
    const instances = await startInstances(2);
    for (const instance of instances) instance.status = 502;
    const answer = await client(instances).request('echo', { method: 'GET', path: '/' });
    expect(answer.status).toBe(502);
    expect(instances.reduce((sum, i) => sum + i.hits, 0)).toBe(3);
  });

  it('opens the breaker of a failing instance and then skips it without calling it', async () => {
    const instances = await startInstances(2);
    const [sick, healthy] = instances;
    if (sick === undefined || healthy === undefined) throw new Error('two instances expected');
    sick.status = 500;
    const breakers = new BreakerRegistry({ logger, policy: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 } });
    const http = client(instances, { breakers, retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    for (let i = 0; i < 6; i += 1) await http.request('echo', { method: 'GET', path: '/' });
    expect(breakers.get(`echo@127.0.0.1:${sick.port}`).state).toBe('open');
    const hitsWhenOpen = sick.hits;
    const single = client([sick], { breakers, retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    await expect(single.request('echo', { method: 'GET', path: '/' })).rejects.toBeInstanceOf(BreakerOpenError);
    // With a second instance the open breaker is skipped and the call still succeeds.
    const withRetry = client(instances, { breakers });
    for (let i = 0; i < 4; i += 1) expect((await withRetry.request<Echo>('echo', { method: 'GET', path: '/' })).body.served_by).toBe('echo-2');
    expect(sick.hits).toBe(hitsWhenOpen);
  });

  it('times out a hanging instance and tries the next one', async () => {
    const instances = await startInstances(2);
    const first = instances[0];
    if (first) first.hang = true;
    const http = client(instances, { timeoutMs: 100 });
    const answer = await http.request<Echo>('echo', { method: 'GET', path: '/' });
    expect(answer.body.served_by).toBe('echo-2');
  });

  it('throws CallTimeoutError when the only instance hangs', async () => {
    const instances = await startInstances(1);
    const only = instances[0];
    if (only) only.hang = true;
    const http = client(instances, { timeoutMs: 50, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } });
    await expect(http.request('echo', { method: 'GET', path: '/' })).rejects.toBeInstanceOf(CallTimeoutError);
  });

  it('throws NoHealthyInstanceError when the service has no instance', async () => {
    const http = client([]);
    await expect(http.request('echo', { method: 'GET', path: '/' })).rejects.toMatchObject({ name: 'NoHealthyInstanceError', serviceName: 'echo' });
  });

  it('throws NoHealthyInstanceError with the cause when discovery fails', async () => {
    const cause = new RegistryError('registry unreachable');
    const http = client([], { discovery: { instances: async () => Promise.reject(cause) } });
    const error = await http.request('echo', { method: 'GET', path: '/' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoHealthyInstanceError);
    expect((error as Error).cause).toBe(cause);
  });

  it('ejects an instance that resets connections, so later calls do not even try it, and takes it back after the ejection', async () => {
    const instances = await startInstances(3);
    const [, flaky] = instances;
    if (flaky === undefined) throw new Error('three instances expected');
    flaky.reset = true;
    const outliers = new OutlierDetector({ logger, policy: { baseEjectionMs: 300 } });
    const http = client(instances, { outliers });
    const servedBy: string[] = [];
    for (let i = 0; i < 9; i += 1) servedBy.push((await http.request<Echo>('echo', { method: 'GET', path: '/' })).body.served_by);
    expect(servedBy).not.toContain('echo-2');
    expect(flaky.hits).toBe(1);
    expect(outliers.isEjected(flaky.instance)).toBe(true);
    flaky.reset = false;
    await vi.waitFor(
      async () => {
        await http.request('echo', { method: 'GET', path: '/' });
        expect(flaky.hits).toBeGreaterThan(1);
      },
      { timeout: 2_000, interval: 20 },
    );
  });
});
