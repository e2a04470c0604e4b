import type { Server } from 'node:http';
import { closeServer, createLogger, Health, listen, loadConfig, Metrics } from '@msr/service-defaults';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import type { Clock } from './domain/clock.js';
import { configSchema } from './config.js';
import { createRegistryRuntime, type RegistryRuntime } from './registry-runtime.js';

class FakeClock implements Clock {
  current = Date.parse('2025-06-01T12:00:00Z');
  now(): number {
    return this.current;
  }
}

describe('registry HTTP API (seed 000 wire contract)', () => {
  const clock = new FakeClock();
  let runtime: RegistryRuntime;
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    const logger = createLogger({ service: 'registry', level: 'silent' });
    const metrics = new Metrics('registry');
    runtime = createRegistryRuntime({
      config: loadConfig(configSchema, { SWEEP_INTERVAL_MS: '60000', HEALTH_FAILURES_BEFORE_CRITICAL: '1', WARMUP_MS: '0' }),
      logger,
      metricsRegistry: metrics.registry,
      clock,
    });
    // The check and sweep loops stay off: tests move the clock, sweep and record check results
    // themselves (health-check.integration.spec.ts runs the loops against real sockets).
    const app = createApp({ logger, health: new Health(), metrics, registry: runtime.service, hub: runtime.hub });
    const listening = await listen(app, 0, '127.0.0.1');
    server = listening.server;
    baseUrl = `http://127.0.0.1:${listening.port}`;
  });

  afterAll(async () => {
    await closeServer(server);
    await runtime.stop();
  });

  beforeEach(() => {
    for (const instance of runtime.catalog.all()) runtime.catalog.deregister(instance.id);
  });

  function post(body: unknown, raw?: string) {
    return fetch(`${baseUrl}/v1/services`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: raw ?? JSON.stringify(body),
    });
  }

  async function discover(name: string, query = '') {
    const response = await fetch(`${baseUrl}/v1/services/${name}/discover${query}`);
    expect(response.status).toBe(200);
    return (await response.json()) as Array<Record<string, unknown>>;
  }

  /** What seed 000's Go client sends: every field, nil slices and maps as null, durations in ns. */
  const goRegistration = {
    service: {
      id: 'user-service-8080',
      name: 'user-service',
      address: 'localhost',
      port: 8080,
      tags: ['api', 'user', 'v1.0'],
      meta: { version: '1.0.0', weight: '1' },
      health: '',
      last_seen: '0001-01-01T00:00:00Z',
    },
    health_check: { id: '', name: '', http: '/health', interval: 10_000_000_000, timeout: 5_000_000_000 },
  };

  it('registers what seed 000\'s Go client sends and discovers it in the seed\'s shape', async () => {
    const response = await post(goRegistration);
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ status: 'registered', id: 'user-service-8080' });

    const instances = await discover('user-service', '?healthy=true');
    expect(instances).toEqual([
      {
        id: 'user-service-8080',
        name: 'user-service',
        address: 'localhost',
        port: 8080,
        tags: ['api', 'user', 'v1.0'],
        meta: { version: '1.0.0', weight: '1' },
        health: 'passing',
        last_seen: '2025-06-01T12:00:00.000Z',
      },
    ]);
    expect(runtime.catalog.get('user-service-8080')?.check).toMatchObject({
      target: { kind: 'http', url: 'http://localhost:8080/health' },
      intervalMs: 10_000,
      timeoutMs: 5_000,
    });
  });

  it('accepts duration strings and a null health check', async () => {
    expect((await post({ service: { id: 'a', name: 'svc', address: '10.0.0.1', port: 1 }, health_check: null })).status).toBe(201);
    const withStrings = await post({
      service: { id: 'b', name: 'svc', address: '10.0.0.2', port: 65535, tags: null, meta: null },
      health_check: { tcp: '10.0.0.2:65535', interval: '1m30s', timeout: '500ms' },
      ttl: '10s',
    });
    expect(withStrings.status).toBe(201);
    expect(runtime.catalog.get('b')).toMatchObject({
      ttlMs: 10_000,
      tags: [],
      meta: {},
      check: { target: { kind: 'tcp', host: '10.0.0.2', port: 65535 }, intervalMs: 90_000, timeoutMs: 500 },
    });
  });

  it('generates an id <name>-<uuid> when none is given and returns it', async () => {
    const response = await post({ service: { id: '', name: 'order-service', address: '127.0.0.1', port: 3002 } });
    const body = (await response.json()) as { status: string; id: string };
    expect(response.status).toBe(201);
    expect(body.id).toMatch(/^order-service-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect((await discover('order-service')).map((i) => i.id)).toEqual([body.id]);
  });

  it('replaces an instance registered again under the same id', async () => {
    await post({ service: { id: 'x', name: 'svc', address: '127.0.0.1', port: 3000 } });
    await post({ service: { id: 'x', name: 'svc', address: '127.0.0.1', port: 4000 } });
    expect((await discover('svc')).map((i) => i.port)).toEqual([4000]);
  });

  it('answers an unknown service with an empty list', async () => {
    expect(await discover('nobody-here', '?healthy=true')).toEqual([]);
  });

  it('leaves critical instances out of healthy=true answers only', async () => {
    await post({ service: { id: 'ok', name: 'svc', address: '127.0.0.1', port: 3000 } });
    await post({ service: { id: 'sick', name: 'svc', address: '127.0.0.1', port: 3001 }, health_check: { http: '/health', interval: '1s' } });
    runtime.catalog.recordCheckResult('sick', runtime.catalog.get('sick')?.generation ?? -1, false, 'HTTP 503');
    expect((await discover('svc', '?healthy=true')).map((i) => i.id)).toEqual(['ok']);
    expect((await discover('svc')).map((i) => [i.id, i.health])).toEqual([
      ['ok', 'passing'],
      ['sick', 'critical'],
    ]);
  });

  it('deregisters an instance, then answers 404 for it', async () => {
    await post({ service: { id: 'gone', name: 'svc', address: '127.0.0.1', port: 3000 } });
    const first = await fetch(`${baseUrl}/v1/services/gone`, { method: 'DELETE' });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ status: 'deregistered' });
    const second = await fetch(`${baseUrl}/v1/services/gone`, { method: 'DELETE' });
    expect(second.status).toBe(404);
    expect(second.headers.get('content-type')).toContain('application/problem+json');
    expect(await second.json()).toMatchObject({ status: 404, code: 'INSTANCE.NOT_FOUND', instance_id: 'gone' });
  });

  it('renews a lease by heartbeat and removes the instance once the lease lapses', async () => {
    await post({ service: { id: 'leased', name: 'svc', address: '127.0.0.1', port: 3000 }, ttl: '10s' });
    clock.current += 9_000;
    const heartbeat = await fetch(`${baseUrl}/v1/services/leased/heartbeat`, { method: 'PUT' });
    expect(heartbeat.status).toBe(200);
    expect(await heartbeat.json()).toMatchObject({ status: 'renewed', id: 'leased' });
    clock.current += 9_000;
    runtime.catalog.sweep();
    expect((await discover('svc')).map((i) => i.id)).toEqual(['leased']);
    clock.current += 1_000;
    runtime.catalog.sweep();
    expect(await discover('svc')).toEqual([]);
    const late = await fetch(`${baseUrl}/v1/services/leased/heartbeat`, { method: 'PUT' });
    expect(late.status).toBe(404);
    expect(await late.json()).toMatchObject({ code: 'INSTANCE.NOT_FOUND' });
  });

  it('summarises services with instance counts and health totals', async () => {
    await post({ service: { id: 'u1', name: 'user-service', address: '127.0.0.1', port: 3001, tags: ['v1'] } });
    await post({ service: { id: 'u2', name: 'user-service', address: '127.0.0.1', port: 3011, tags: ['v2'] } });
    await post({ service: { id: 'p1', name: 'payment-service', address: '127.0.0.1', port: 3003 } });
    const response = await fetch(`${baseUrl}/v1/services`);
    expect(await response.json()).toEqual([
      { name: 'payment-service', instances: 1, health: { passing: 1, warning: 0, critical: 0 }, tags: [] },
      { name: 'user-service', instances: 2, health: { passing: 2, warning: 0, critical: 0 }, tags: ['v1', 'v2'] },
    ]);
  });

  it('exposes instance counts by service and health on /metrics', async () => {
    await post({ service: { id: 'm1', name: 'metered', address: '127.0.0.1', port: 3000 } });
    const text = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(text).toMatch(/registry_instances\{service_name="metered",health="passing",service="registry"\} 1/);
  });

  describe('bad input', () => {
    async function expectInvalid(response: Response, field: string) {
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      const problem = (await response.json()) as { detail: string; invalid_params?: Array<{ name: string }> };
      expect(problem.invalid_params?.map((p) => p.name)).toContain(field);
      expect(problem.detail).toContain(field);
      expect(runtime.catalog.all()).toEqual([]);
    }

    it('rejects malformed JSON', async () => {
      const response = await post(undefined, '{"service": ');
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'REQUEST.MALFORMED_JSON' });
    });

    it('rejects a body without a service', async () => {
      await expectInvalid(await post({ health_check: { http: '/health' } }), 'service');
    });

    it('rejects a missing name', async () => {
      await expectInvalid(await post({ service: { address: '127.0.0.1', port: 3000 } }), 'service.name');
    });

    it('rejects a name that cannot travel in a URL path', async () => {
      await expectInvalid(await post({ service: { name: 'a/b', address: '127.0.0.1', port: 3000 } }), 'service.name');
    });

    it.each([[0], [65536], [-1], [80.5], ['8080']])('rejects port %j', async (port) => {
      await expectInvalid(await post({ service: { name: 'svc', address: '127.0.0.1', port } }), 'service.port');
    });

    it.each([['-10s'], [-1], ['10'], ['1000h'], ['1ns']])('rejects interval %j', async (interval) => {
      const body = { service: { name: 'svc', address: '127.0.0.1', port: 3000 }, health_check: { http: '/health', interval } };
      await expectInvalid(await post(body), 'health_check.interval');
    });

    it('rejects a zero interval for a check that has a target', async () => {
      const body = { service: { name: 'svc', address: '127.0.0.1', port: 3000 }, health_check: { http: '/health', interval: 0 } };
      await expectInvalid(await post(body), 'health_check.interval');
    });

    it.each([['0s'], ['-1s'], ['2d']])('rejects ttl %j', async (ttl) => {
      await expectInvalid(await post({ service: { name: 'svc', address: '127.0.0.1', port: 3000 }, ttl }), 'ttl');
    });

    it('rejects a check with both http and tcp', async () => {
      const body = { service: { name: 'svc', address: '127.0.0.1', port: 3000 }, health_check: { http: '/health', tcp: '127.0.0.1:3000' } };
      await expectInvalid(await post(body), 'health_check.tcp');
    });

    it('rejects an http check that is neither a path nor a URL', async () => {
      const body = { service: { name: 'svc', address: '127.0.0.1', port: 3000 }, health_check: { http: 'health' } };
      await expectInvalid(await post(body), 'health_check.http');
    });

    it('rejects an unknown healthy flag', async () => {
      const response = await fetch(`${baseUrl}/v1/services/svc/discover?healthy=maybe`);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ invalid_params: [{ name: 'healthy' }] });
    });

    it('answers unknown routes with a problem', async () => {
      const response = await fetch(`${baseUrl}/v1/nothing`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
    });
  });
});

describe('registry HTTP API beyond seed 000: filters, info, blocking queries, seed 001, auth', () => {
  const token = 'registry-test-token-0123456789';
  let runtime: RegistryRuntime;
  let server: Server;
  let baseUrl: string;
  const auth = { authorization: `Bearer ${token}` };

  beforeAll(async () => {
    const logger = createLogger({ service: 'registry', level: 'silent' });
    runtime = createRegistryRuntime({
      config: loadConfig(configSchema, { SWEEP_INTERVAL_MS: '60000', WARMUP_MS: '0', MAX_INSTANCES_PER_SERVICE: '3' }),
      logger,
    });
    const app = createApp({ logger, health: new Health(), metrics: new Metrics('registry'), registry: runtime.service, hub: runtime.hub, token });
    const listening = await listen(app, 0, '127.0.0.1');
    server = listening.server;
    baseUrl = `http://127.0.0.1:${listening.port}`;
  });

  afterAll(async () => {
    runtime.closeWatches();
    await closeServer(server);
    await runtime.stop();
  });

  beforeEach(() => {
    for (const instance of runtime.catalog.all()) runtime.catalog.deregister(instance.id);
  });

  function register(service: Record<string, unknown>, extra: Record<string, unknown> = {}, headers: Record<string, string> = auth) {
    return fetch(`${baseUrl}/v1/services`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ service: { address: '127.0.0.1', port: 3000, ...service }, ...extra }),
    });
  }

  async function json<T = unknown>(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: T }> {
    const response = await fetch(`${baseUrl}${path}`, init);
    return { status: response.status, headers: response.headers, body: (await response.json()) as T };
  }

  describe('auth', () => {
    it('refuses writes without the registry token, naming how to send it', async () => {
      const response = await register({ id: 'x', name: 'svc' }, {}, {});
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="registry"');
      expect(await response.json()).toMatchObject({ code: 'REGISTRY.UNAUTHORIZED', detail: expect.stringContaining('X-Registry-Token') });
      expect(runtime.catalog.all()).toEqual([]);
    });

    it('refuses a wrong token on every kind of write', async () => {
      expect((await register({ id: 'x', name: 'svc' })).status).toBe(201);
      const wrong = { authorization: 'Bearer not-the-token' };
      expect((await register({ id: 'y', name: 'svc' }, {}, wrong)).status).toBe(401);
      expect((await fetch(`${baseUrl}/v1/services/x/heartbeat`, { method: 'PUT', headers: wrong })).status).toBe(401);
      expect((await fetch(`${baseUrl}/v1/services/x`, { method: 'DELETE', headers: wrong })).status).toBe(401);
      expect((await fetch(`${baseUrl}/services`, { method: 'POST', headers: { ...wrong, 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
      expect(runtime.catalog.all().map((i) => i.id)).toEqual(['x']);
    });

    it('accepts the token as a bearer token or in X-Registry-Token, and keeps reads open', async () => {
      expect((await register({ id: 'x', name: 'svc' }, {}, { 'x-registry-token': token })).status).toBe(201);
      expect((await fetch(`${baseUrl}/v1/services/x/heartbeat`, { method: 'PUT', headers: auth })).status).toBe(200);
      expect((await json('/v1/services/svc/discover')).status).toBe(200);
      expect((await json('/v1/services')).status).toBe(200);
      expect((await json('/services')).status).toBe(200);
    });
  });

  it('answers 409 for one instance more than the maximum per service', async () => {
    for (const id of ['a', 'b', 'c']) expect((await register({ id, name: 'svc' })).status).toBe(201);
    const response = await register({ id: 'd', name: 'svc' });
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ code: 'SERVICE.INSTANCE_LIMIT', service_name: 'svc', limit: 3 });
  });

  it('takes per-check thresholds and a deregister time in Consul\'s terms', async () => {
    const response = await register(
      { id: 'c', name: 'svc' },
      { health_check: { http: '/health', interval: '1s', failures_before_critical: 3, successes_before_passing: 2, deregister_critical_service_after: '90s' } },
    );
    expect(response.status).toBe(201);
    expect(runtime.catalog.get('c')?.check).toMatchObject({ thresholds: { failuresBeforeCritical: 3, successesBeforePassing: 2 }, deregisterCriticalAfterMs: 90_000 });
  });

  describe('catalog, filters and service info', () => {
    beforeEach(async () => {
      await register({ id: 'u1', name: 'user-service', tags: ['v1'], meta: { version: '1.0.0' } });
      await register({ id: 'u2', name: 'user-service', port: 3001, tags: ['v2', 'canary'], meta: { version: '2.0.0' } });
      await register({ id: 'p1', name: 'payment-service', tags: ['v1'] });
    });

    it('filters discovery by tag and by metadata', async () => {
      const ids = async (query: string) => (await json<Array<{ id: string }>>(`/v1/services/user-service/discover?${query}`)).body.map((i) => i.id);
      expect(await ids('tag=v2')).toEqual(['u2']);
      expect(await ids('tag=v2&tag=canary')).toEqual(['u2']);
      expect(await ids('tag=v1&tag=canary')).toEqual([]);
      expect(await ids('meta=version:1.0.0')).toEqual(['u1']);
      expect(await ids('healthy=true&meta=version:2.0.0')).toEqual(['u2']);
    });

    it('summarises services filtered by tag', async () => {
      const { body } = await json<Array<{ name: string; instances: number }>>('/v1/services?tag=v1');
      expect(body.map((s) => [s.name, s.instances])).toEqual([
        ['payment-service', 1],
        ['user-service', 1],
      ]);
    });

    it('describes one service, and answers 404 for one that has no instance', async () => {
      const { status, body, headers } = await json('/v1/services/user-service');
      expect(status).toBe(200);
      expect(body).toEqual({
        name: 'user-service',
        instances: 2,
        health: { passing: 2, warning: 0, critical: 0 },
        aggregated_health: 'passing',
        versions: ['1.0.0', '2.0.0'],
        tags: ['canary', 'v1', 'v2'],
        meta: { version: ['1.0.0', '2.0.0'] },
        index: runtime.catalog.serviceIndex('user-service'),
      });
      expect(headers.get('x-registry-index')).toBe(String(runtime.catalog.serviceIndex('user-service')));
      const missing = await json('/v1/services/nobody');
      expect(missing.status).toBe(404);
      expect(missing.body).toMatchObject({ code: 'SERVICE.NOT_FOUND', service_name: 'nobody' });
    });

    it('lists every service\'s instances in the catalog', async () => {
      const { body } = await json<Record<string, Array<{ id: string }>>>('/v1/catalog?meta=version:2.0.0');
      expect(Object.fromEntries(Object.entries(body).map(([name, list]) => [name, list.map((i) => i.id)]))).toEqual({ 'user-service': ['u2'] });
    });
  });

  describe('blocking queries', () => {
    it('stamps each discover answer with the catalog index', async () => {
      await register({ id: 'a', name: 'svc' });
      const { headers } = await json('/v1/services/svc/discover');
      expect(headers.get('x-registry-index')).toBe(String(runtime.catalog.index));
      expect(headers.get('x-registry-warming')).toBeNull();
    });

    it('answers at once when the service changed after the index given', async () => {
      await register({ id: 'a', name: 'svc' });
      const started = Date.now();
      const { body } = await json<unknown[]>(`/v1/services/svc/discover?index=${runtime.catalog.index - 1}&wait=10s`);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(body).toHaveLength(1);
    });

    it('holds the answer until the service changes', async () => {
      await register({ id: 'a', name: 'svc' });
      const index = runtime.catalog.index;
      const pending = json<Array<{ id: string }>>(`/v1/services/svc/discover?index=${index}&wait=10s`);
      let answered = false;
      void pending.then(() => (answered = true));
      await register({ id: 'p', name: 'other' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(answered).toBe(false);
      await register({ id: 'b', name: 'svc' });
      const { body, headers } = await pending;
      expect(body.map((i) => i.id)).toEqual(['a', 'b']);
      expect(Number(headers.get('x-registry-index'))).toBeGreaterThan(index);
    });

    it('answers with the same index once the wait is over and nothing changed', async () => {
      await register({ id: 'a', name: 'svc' });
      const index = runtime.catalog.index;
      const started = Date.now();
      const { headers } = await json(`/v1/services/svc/discover?index=${index}&wait=200ms`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      expect(headers.get('x-registry-index')).toBe(String(index));
    });

    it.each([['index=-1', 'index'], ['index=abc', 'index'], ['index=1&wait=soon', 'wait'], ['index=1&wait=11m', 'wait'], ['meta=version', 'meta.0'], ['tag=', 'tag.0']])(
      'rejects the query %s',
      async (query, field) => {
        const response = await json<{ invalid_params: Array<{ name: string }> }>(`/v1/services/svc/discover?${query}`);
        expect(response.status).toBe(400);
        expect(response.headers.get('content-type')).toContain('application/problem+json');
        expect(response.body.invalid_params.map((p) => p.name)).toContain(field);
      },
    );
  });

  describe('seed 001 API', () => {
    function post(body: unknown) {
      return fetch(`${baseUrl}/services`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) });
    }

    it('registers a service by name and URL, lists it, and reports its health as unknown until checked', async () => {
      const response = await post({ name: 'user-service', url: 'http://localhost:8081' });
      expect(response.status).toBe(201);
      expect(await response.json()).toEqual({ id: 'user-service@localhost:8081', name: 'user-service', url: 'http://localhost:8081', status: 'unknown', last_ping: null });
      expect(runtime.catalog.get('user-service@localhost:8081')).toMatchObject({
        address: 'localhost',
        port: 8081,
        check: { target: { kind: 'http', url: 'http://localhost:8081/health' }, intervalMs: 30_000, timeoutMs: 5_000, thresholds: { failuresBeforeCritical: 3 } },
      });
      const listed = await json<Array<{ name: string }>>('/services');
      expect(listed.body).toEqual([expect.objectContaining({ name: 'user-service', status: 'unknown' })]);
      const health = await json('/services/user-service/health');
      expect(health.body).toEqual({ name: 'user-service', status: 'unknown', last_ping: null, instances: listed.body });
    });

    it('reports healthy with the last ping once a check passed, and unhealthy once it is critical', async () => {
      await post({ name: 'user-service', url: 'http://localhost:8081' });
      const id = 'user-service@localhost:8081';
      const generation = runtime.catalog.get(id)?.generation ?? -1;
      runtime.catalog.recordCheckResult(id, generation, true);
      const healthy = await json<{ status: string; last_ping: string }>('/services/user-service/health');
      expect(healthy.body.status).toBe('healthy');
      expect(Date.parse(healthy.body.last_ping)).toBeGreaterThan(Date.now() - 5_000);
      for (let i = 0; i < 3; i += 1) runtime.catalog.recordCheckResult(id, generation, false);
      expect((await json<{ status: string }>('/services/user-service/health')).body.status).toBe('unhealthy');
    });

    it('shows seed 000 registrations in seed 001\'s shape too', async () => {
      await register({ id: 'o1', name: 'order-service', address: '10.0.0.7', port: 3002 });
      expect((await json('/services')).body).toEqual([{ id: 'o1', name: 'order-service', url: 'http://10.0.0.7:3002', status: 'unknown', last_ping: null }]);
    });

    it('answers 404 for the health of an unknown service', async () => {
      const response = await json('/services/nobody/health');
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ code: 'SERVICE.NOT_FOUND' });
    });

    it.each([
      [{ url: 'http://localhost:8081' }, 'name'],
      [{ name: 'svc' }, 'url'],
      [{ name: 'svc', url: 'localhost:8081' }, 'url'],
      [{ name: 'svc', url: 'ftp://localhost:8081' }, 'url'],
      [{ name: 'a b', url: 'http://localhost:8081' }, 'name'],
    ])('rejects %j', async (body, field) => {
      const response = await post(body);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { invalid_params: Array<{ name: string }> }).invalid_params.map((p) => p.name)).toContain(field);
      expect(runtime.catalog.all()).toEqual([]);
    });
  });
});
