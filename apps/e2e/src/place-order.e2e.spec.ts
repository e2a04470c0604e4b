import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderView, PublicApi } from '@msr/system';
import { startSystemUnderTest, type SystemUnderTest } from './support.js';

/**
 * The whole system as a client sees it: five processes, real PostgreSQL, real Kafka, and only
 * the gateway's public API. Tests in this file run in order and share one system.
 */
describe('placing orders through the gateway', () => {
  let sut: SystemUnderTest;
  let api: PublicApi;
  let stopped = false;

  beforeAll(async () => {
    sut = await startSystemUnderTest();
    api = sut.api;
  }, 150_000);

  afterAll(async () => {
    if (!stopped) await sut?.dispose();
  }, 60_000);

  async function activeUserWithAccount(name: string): Promise<{ id: string; balance: number }> {
    const user = await api.createUser(`${name.toLowerCase().replace(/\s/g, '.')}.${randomUUID().slice(0, 8)}@example.com`, name);
    await api.activateUser(user.id);
    const account = await api.waitForAccount(user.id);
    return { id: user.id, balance: account.balance_cents };
  }

  function stepOutcomes(order: OrderView): string[] {
    return (order.saga?.steps ?? []).map((step) => `${step.step}:${step.direction}:${step.outcome}`);
  }

  it('approves an order for an active user with funds and stock', async () => {
    const user = await activeUserWithAccount('Ada Lovelace');
    const stockBefore = await api.stockOf('SKU-BOOK');

    const orderId = await api.placeOrder(user.id, [{ sku: 'SKU-BOOK', quantity: 2 }]);
    const order = await api.waitForFinalOrder(orderId);

    expect(order.status).toBe('APPROVED');
    expect(order.total_cents).toBe(2 * 4999);
    expect(await api.stockOf('SKU-BOOK')).toBe(stockBefore - 2);
    expect((await api.waitForAccount(user.id)).balance_cents).toBe(user.balance - 2 * 4999);
    const steps = order.saga?.steps.filter((step) => step.direction === 'forward').map((step) => step.step);
    expect(steps).toEqual(['verify-user', 'reserve-inventory', 'authorize-payment', 'approve-order']);
  });

  it('rejects an order the balance cannot cover, leaving stock and balance unchanged', async () => {
    const user = await activeUserWithAccount('Grace Hopper');
    const stockBefore = await api.stockOf('SKU-LAPTOP');

    const order = await api.waitForFinalOrder(await api.placeOrder(user.id, [{ sku: 'SKU-LAPTOP', quantity: 1 }]));

    expect(order.status).toBe('REJECTED');
    expect(order.reason_code).toMatch(/INSUFFICIENT_FUNDS/);
    expect(stepOutcomes(order)).toContain('release-inventory:compensate:succeeded');
    expect(await api.stockOf('SKU-LAPTOP')).toBe(stockBefore);
    expect((await api.waitForAccount(user.id)).balance_cents).toBe(user.balance);
  });

  it('rejects an order of an inactive user without reserving stock', async () => {
    const user = await activeUserWithAccount('Inactive Ian');
    expect((await api.call('PUT', `/api/users/${user.id}`, { status: 'inactive' })).status).toBe(200);
    const stockBefore = await api.stockOf('SKU-MUG');

    const order = await api.waitForFinalOrder(await api.placeOrder(user.id, [{ sku: 'SKU-MUG', quantity: 1 }]));

    expect(order.status).toBe('REJECTED');
    expect(order.reason_code).toMatch(/NOT_ACTIVE/);
    expect(stepOutcomes(order).some((outcome) => outcome.startsWith('reserve-inventory'))).toBe(false);
    expect(await api.stockOf('SKU-MUG')).toBe(stockBefore);
  });

  it('answers bad input with problem+json naming the problem, and writes nothing', async () => {
    const user = await activeUserWithAccount('Careful Carl');
    const usersBefore = (await api.call<{ pagination: { total: number } }>('GET', '/api/users?page=1&limit=1')).body.pagination.total;
    const stockBefore = await api.stockOf('SKU-BOOK');

    const cases: Array<{ what: string; method: string; path: string; body?: unknown; raw?: string; status: number; mentions: RegExp }> = [
      { what: 'malformed JSON user', method: 'POST', path: '/api/users', raw: '{"email": ', status: 400, mentions: /JSON/i },
      { what: 'missing name', method: 'POST', path: '/api/users', body: { email: 'no.name@example.com' }, status: 400, mentions: /name/ },
      { what: 'invalid e-mail', method: 'POST', path: '/api/users', body: { email: 'not-an-email', name: 'X' }, status: 400, mentions: /e-?mail/i },
      { what: 'wrongly typed name', method: 'POST', path: '/api/users', body: { email: 'typed@example.com', name: 42 }, status: 400, mentions: /name/ },
      { what: 'unknown user id', method: 'GET', path: `/api/users/${randomUUID()}`, status: 404, mentions: /user/i },
      { what: 'malformed JSON order', method: 'POST', path: '/api/orders', raw: '{"user_id"', status: 400, mentions: /JSON/i },
      { what: 'missing items', method: 'POST', path: '/api/orders', body: { user_id: user.id }, status: 400, mentions: /items/ },
      { what: 'zero quantity', method: 'POST', path: '/api/orders', body: { user_id: user.id, items: [{ sku: 'SKU-BOOK', quantity: 0 }] }, status: 400, mentions: /quantity/ },
      { what: 'negative quantity', method: 'POST', path: '/api/orders', body: { user_id: user.id, items: [{ sku: 'SKU-BOOK', quantity: -3 }] }, status: 400, mentions: /quantity/ },
      { what: 'fractional quantity', method: 'POST', path: '/api/orders', body: { user_id: user.id, items: [{ sku: 'SKU-BOOK', quantity: 1.5 }] }, status: 400, mentions: /quantity/ },
      { what: 'quantity as a string', method: 'POST', path: '/api/orders', body: { user_id: user.id, items: [{ sku: 'SKU-BOOK', quantity: '2' }] }, status: 400, mentions: /quantity/ },
      { what: 'unknown SKU', method: 'POST', path: '/api/orders', body: { user_id: user.id, items: [{ sku: 'SKU-NOPE', quantity: 1 }] }, status: 422, mentions: /SKU-NOPE/ },
      { what: 'user id not a UUID', method: 'POST', path: '/api/orders', body: { user_id: 'abc', items: [{ sku: 'SKU-BOOK', quantity: 1 }] }, status: 400, mentions: /user_id/ },
      { what: 'unknown order id', method: 'GET', path: `/api/orders/${randomUUID()}`, status: 404, mentions: /order/i },
    ];

    for (const c of cases) {
      const response = await api.call<{ detail: string; status: number }>(c.method, c.path, c.body, c.raw);
      expect.soft(response.status, c.what).toBe(c.status);
      expect.soft(response.contentType, c.what).toMatch(/^application\/problem\+json/);
      expect.soft(response.body?.detail, c.what).toMatch(c.mentions);
    }

    expect((await api.call<{ pagination: { total: number } }>('GET', '/api/users?page=1&limit=1')).body.pagination.total).toBe(usersBefore);
    expect((await api.call<{ data: unknown[] }>('GET', `/api/orders?user_id=${user.id}`)).body.data).toEqual([]);
    expect(await api.stockOf('SKU-BOOK')).toBe(stockBefore);
  });

  it('approves exactly 5 of 20 concurrent orders for a product with stock 5', async () => {
    const user = await activeUserWithAccount('Eager Eve');
    expect(await api.stockOf('SKU-LIMITED')).toBe(5);

    const orderIds = await Promise.all(Array.from({ length: 20 }, () => api.placeOrder(user.id, [{ sku: 'SKU-LIMITED', quantity: 1 }])));
    const stockWhileRunning: number[] = [];
    const orders = await Promise.all(
      orderIds.map(async (id) => {
        stockWhileRunning.push(await api.stockOf('SKU-LIMITED'));
        return api.waitForFinalOrder(id, 60_000);
      }),
    );

    const approved = orders.filter((order) => order.status === 'APPROVED');
    const rejected = orders.filter((order) => order.status === 'REJECTED');
    expect(approved).toHaveLength(5);
    expect(rejected).toHaveLength(15);
    expect(rejected.every((order) => /OUT_OF_STOCK/.test(order.reason_code ?? ''))).toBe(true);
    expect(await api.stockOf('SKU-LIMITED')).toBe(0);
    expect(Math.min(...stockWhileRunning)).toBeGreaterThanOrEqual(0);
    expect((await api.waitForAccount(user.id)).balance_cents).toBe(user.balance - 5 * 1000);
  });

  it('shuts every app down gracefully with exit code 0 on SIGTERM', async () => {
    stopped = true;
    await sut.dispose();
    // dispose() stopped the apps already; their exit codes are final.
    const codes = await Promise.all([...sut.system.apps.values()].map(async (app) => [app.name, await app.exited] as const));
    expect(Object.fromEntries(codes)).toEqual({ registry: 0, 'user-service': 0, 'payment-service': 0, 'order-service': 0, gateway: 0 });
  });
});
