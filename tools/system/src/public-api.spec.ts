import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublicApi } from './public-api.js';

describe('PublicApi', () => {
  let server: Server;
  let api: PublicApi;
  let polls = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/api/orders/pending-then-approved') {
        polls += 1;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ id: 'o1', status: polls < 3 ? 'PENDING' : 'APPROVED', total_cents: 100 }));
        return;
      }
      if (req.url === '/api/orders/stuck') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ id: 'o2', status: 'PENDING', total_cents: 100 }));
        return;
      }
      res.statusCode = 404;
      res.setHeader('content-type', 'application/problem+json');
      res.end(JSON.stringify({ status: 404, detail: 'nothing here' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    api = new PublicApi(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers error statuses as values, with content type and parsed body', async () => {
    const response = await api.call<{ detail: string }>('GET', '/api/nope');
    expect(response.status).toBe(404);
    expect(response.contentType).toBe('application/problem+json');
    expect(response.body.detail).toBe('nothing here');
  });

  it('polls an order until it is final', async () => {
    const order = await api.waitForFinalOrder('pending-then-approved', 5_000);
    expect(order.status).toBe('APPROVED');
    expect(polls).toBe(3);
  });

  it('gives up on an order that stays pending past the deadline', async () => {
    await expect(api.waitForFinalOrder('stuck', 100)).rejects.toThrow(/still PENDING/);
  });

  it('throws when a typed call gets an unexpected status', async () => {
    await expect(api.order('missing')).rejects.toThrow(/expected 200, got 404/);
  });
});
