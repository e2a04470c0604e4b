import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken, type ApiResponse, type PublicApi } from '@msr/system';
import { startSystemUnderTest, type SystemUnderTest } from './support.js';

/**
 * The gateway in front of real processes (issue 4's proof): auth, limits and problem answers;
 * one of three order-service instances dead; a stopped (SIGSTOP) instance giving 504s without a
 * POST ever being sent twice; a stopped single user-service opening its breaker until a
 * half-open trial closes it. Tests run in order and share one system.
 */
describe('the gateway in front of real services', () => {
  let sut: SystemUnderTest;
  let api: PublicApi;
  // Long enough that a loaded two-core machine answers bursts in time, short enough for the tests.
  const upstreamTimeoutMs = 1_500;
  const resetTimeoutMs = 2_000;

  beforeAll(async () => {
    sut = await startSystemUnderTest({
      instances: { 'order-service': 3 },
      appEnv: {
        gateway: {
          UPSTREAM_TIMEOUT_MS: String(upstreamTimeoutMs),
          BREAKER_VOLUME_THRESHOLD: '3',
          BREAKER_RESET_TIMEOUT_MS: String(resetTimeoutMs),
          RATE_LIMIT_PER_MINUTE: '300',
        },
        // A stopped process must stay registered and passing while a test has it stopped
        // (a few seconds): heartbeats and health checks get more slack than by default.
        registry: { HEALTH_FAILURES_BEFORE_CRITICAL: '4' },
        'user-service': { REGISTRY_TTL_MS: '60000' },
        'order-service': { REGISTRY_TTL_MS: '60000' },
      },
    });
    api = sut.api.as(await mintDevToken({ subject: `e2e-gateway-${randomUUID()}` }));
  }, 180_000);

  afterAll(async () => {
    for (const app of sut?.system.instancesOf('order-service') ?? []) app.child.kill('SIGCONT');
    sut?.system.apps.get('user-service')?.child.kill('SIGCONT');
    await sut?.dispose();
  }, 60_000);

  function expectProblem(response: ApiResponse<unknown>, status: number, code: string): void {
    expect(response.status, JSON.stringify(response.body)).toBe(status);
    expect(response.contentType).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status, code });
  }

  /** A user's orders; a read that met the stopped instance (504) is asked again, landing elsewhere. */
  async function ordersOf(userId: string): Promise<unknown[]> {
    for (let attempt = 1; ; attempt++) {
      const response = await api.call<{ data: unknown[] }>('GET', `/api/orders?user_id=${userId}`);
      if (response.status === 200) return response.body.data;
      expectProblem(response, 504, 'GATEWAY.UPSTREAM_TIMEOUT');
      if (attempt === 5) throw new Error('no answer from a live order-service instance');
    }
  }

  async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
    const started = performance.now();
    const result = await work();
    return { result, ms: performance.now() - started };
  }

  it('answers missing, expired, forged and wrong-scope tokens with 401/403 problems', async () => {
    const order = { user_id: randomUUID(), items: [{ sku: 'SKU-BOOK', quantity: 1 }] };
    expectProblem(await api.as(null).call('POST', '/api/orders', order), 401, 'AUTH.TOKEN_MISSING');
    expectProblem(await api.as(await mintDevToken({ expiresInSeconds: -120 })).call('POST', '/api/orders', order), 401, 'AUTH.TOKEN_EXPIRED');
    expectProblem(await api.as(await mintDevToken({ secret: 'not-the-gateway-secret-but-long-enough' })).call('POST', '/api/orders', order), 401, 'AUTH.TOKEN_INVALID');
    expectProblem(await api.as(await mintDevToken({ scopes: ['orders:read'] })).call('POST', '/api/orders', order), 403, 'AUTH.INSUFFICIENT_SCOPE');
    expectProblem(await api.as(null).call('GET', `/api/accounts/${randomUUID()}`), 401, 'AUTH.TOKEN_MISSING');
    // Reads of the catalog and of users stay public.
    expect((await api.as(null).call('GET', '/api/products')).status).toBe(200);
  });

  it('answers an oversized body with 413, unknown routes with 404 and wrong methods with 405, all problem+json', async () => {
    const huge = JSON.stringify({ user_id: randomUUID(), items: [{ sku: 'x'.repeat(2 * 1024 * 1024), quantity: 1 }] });
    expectProblem(await api.call('POST', '/api/orders', undefined, huge), 413, 'REQUEST.TOO_LARGE');
    expectProblem(await api.call('GET', '/api/nothing-here'), 404, 'ROUTE.NOT_FOUND');
    expectProblem(await api.call('DELETE', '/api/products'), 405, 'ROUTE.METHOD_NOT_ALLOWED');
  });

  it('answers 429 with Retry-After once a client passes its rate limit, counting clients apart', async () => {
    const flood = api.as(await mintDevToken({ subject: `flood-${randomUUID()}` }));
    const statuses: number[] = [];
    let limited: ApiResponse<unknown> | undefined;
    for (let batch = 0; batch < 16; batch++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => flood.call('GET', '/api/products')));
      statuses.push(...answers.map((answer) => answer.status));
      limited ??= answers.find((answer) => answer.status === 429);
    }
    // Exactly the limit went through (whatever the upstream then answered); the rest was refused.
    expect(statuses.filter((status) => status !== 429)).toHaveLength(300);
    expect(statuses.filter((status) => status === 429)).toHaveLength(20);
    expectProblem(limited as ApiResponse<unknown>, 429, 'RATE_LIMIT.EXCEEDED');
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited?.headers.get('ratelimit-policy')).toBe('300;w=60');
    expect((await api.call('GET', '/api/products')).status).toBe(200);
  });

  it('serves every service OpenAPI document on one documentation page', async () => {
    const response = await fetch(`${sut.system.gatewayUrl}/docs`);
    const page = await response.text();
    expect(response.status).toBe(200);
    for (const title of ['User Service API', 'Order Service API', 'Payment Service API']) expect(page).toContain(title);
    expect(page).toMatch(/POST<\/td><td><code>\/api\/orders<\/code>/);
    expect(page).toMatch(/GET<\/td><td><code>\/api\/accounts\/\{user_id\}<\/code>/);
    const orders = (await api.call<{ openapi: string; servers: unknown }>('GET', '/docs/order-service/openapi.json')).body;
    expect(orders.openapi).toMatch(/^3\./);
    expect(orders.servers).toEqual([{ url: '/api', description: 'through the API gateway' }]);
  });

  it('gives GET clients no errors while one of three order-service instances is dead', async () => {
    await sut.system.kill('order-service', 2);
    const statuses: number[] = [];
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(Array.from({ length: 6 }, () => api.call('GET', '/api/products')));
      statuses.push(...answers.map((answer) => answer.status));
    }
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
  });

  it('answers 504 within the timeout for a stopped instance, and never sends a POST twice', async () => {
    const user = await sut.api.createUser(`posts.${randomUUID().slice(0, 8)}@example.com`, 'Post Once');
    const stopped = sut.system.instancesOf('order-service')[0];
    stopped?.child.kill('SIGSTOP');
    try {
      const answers: Array<{ status: number; ms: number }> = [];
      for (let i = 0; i < 6; i++) {
        const { result, ms } = await timed(() => api.call('POST', '/api/orders', { user_id: user.id, items: [{ sku: 'SKU-MUG', quantity: 1 }] }));
        answers.push({ status: result.status, ms });
        if (result.status === 504) {
          expectProblem(result, 504, 'GATEWAY.UPSTREAM_TIMEOUT');
          expect(ms).toBeGreaterThanOrEqual(upstreamTimeoutMs - 50);
          expect(ms).toBeLessThan(upstreamTimeoutMs + 1_500);
        } else {
          expect(result.status, JSON.stringify(result.body)).toBe(202);
        }
      }
      // Round robin over the two live instances sends every other request to the stopped one.
      expect(answers.filter((answer) => answer.status === 504).length).toBeGreaterThanOrEqual(1);
      const accepted = answers.filter((answer) => answer.status === 202).length;
      // Each 202 is one order; a POST that timed out was not repeated on another instance.
      expect((await ordersOf(user.id)).length).toBe(accepted);
    } finally {
      stopped?.child.kill('SIGCONT');
    }
    // Whatever the stopped instance finds in its socket buffers when it resumes, it is at most once per POST.
    expect((await ordersOf(user.id)).length).toBeLessThanOrEqual(6);
  });

  it('opens the breaker of a stopped user-service, fails fast, and closes it after a successful half-open trial', async () => {
    const userPath = `/api/users/${randomUUID()}`;
    expect((await api.call('GET', userPath)).status).toBe(404);
    const userService = sut.system.apps.get('user-service');
    userService?.child.kill('SIGSTOP');
    try {
      // Timeouts until the breaker has seen enough of them (its window also holds earlier successes).
      const slow: number[] = [];
      let first503: ApiResponse<unknown> | undefined;
      while (first503 === undefined && slow.length < 6) {
        const { result, ms } = await timed(() => api.call('GET', userPath));
        if (result.status === 503) first503 = result;
        else {
          expectProblem(result, 504, 'GATEWAY.UPSTREAM_TIMEOUT');
          slow.push(ms);
        }
      }
      expect(slow.length).toBeGreaterThanOrEqual(2);
      expect(Math.min(...slow)).toBeGreaterThanOrEqual(upstreamTimeoutMs - 50);
      expectProblem(first503 as ApiResponse<unknown>, 503, 'GATEWAY.CIRCUIT_OPEN');
      for (let i = 0; i < 5; i++) {
        const { result, ms } = await timed(() => api.call('GET', userPath));
        expectProblem(result, 503, 'GATEWAY.CIRCUIT_OPEN');
        expect(ms).toBeLessThan(200);
        expect(result.headers.get('retry-after')).toBe(String(resetTimeoutMs / 1_000));
      }
    } finally {
      userService?.child.kill('SIGCONT');
    }
    // Still open right after the resume; the half-open trial after the reset timeout closes it.
    const deadline = Date.now() + 15_000;
    let status = 0;
    while (status !== 404 && Date.now() < deadline) {
      const response = await api.call('GET', userPath);
      status = response.status;
      if (status !== 404) expectProblem(response, 503, 'GATEWAY.CIRCUIT_OPEN');
      else break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(404);
    const metrics = await (await fetch(`${sut.system.gatewayUrl}/metrics`)).text();
    expect(metrics).toMatch(/circuit_breaker_state\{breaker="user-service",service="gateway"\} 0/);
    for (let i = 0; i < 3; i++) expect((await api.call('GET', userPath)).status).toBe(404);
  });
});
