import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { breakerCalls, breakerCallTotal, breakerState, call, cleanUp, deadPort, devToken, eventually, instance, onCleanUp, serve, startEchoUpstream, startGateway } from './testing/gateway-harness.js';

// Everything here is real HTTP over loopback: a stand-in registry answering seed 000's discover
// endpoint, upstream servers, and the gateway itself, wired as main.ts wires it.

afterEach(cleanUp, 5_000);

describe('gateway routing', () => {
  it('routes each /api prefix to its service with /api stripped and the query kept', async () => {
    const users = await startEchoUpstream('users');
    const orders = await startEchoUpstream('orders');
    const payments = await startEchoUpstream('payments');
    const gateway = await startGateway({
      'user-service': [instance('user-service', users.port)],
      'order-service': [instance('order-service', orders.port)],
      'payment-service': [instance('payment-service', payments.port)],
    });

    const cases: [string, string, string][] = [
      ['/api/users/1?fields=name', 'users', '/users/1?fields=name'],
      ['/api/users', 'users', '/users'],
      ['/api/orders?user_id=7', 'orders', '/orders?user_id=7'],
      ['/api/products', 'orders', '/products'],
      ['/api/payments/p-1', 'payments', '/payments/p-1'],
      ['/api/accounts/u-1', 'payments', '/accounts/u-1'],
    ];
    for (const [path, upstream, upstreamUrl] of cases) {
      const response = await call(`${gateway}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.json(), path).toMatchObject({ upstream, url: upstreamUrl });
    }
  });

  it('answers 404 problem+json for paths outside the routing table', async () => {
    const gateway = await startGateway({});
    for (const path of ['/api/unknown', '/api/usersx', '/nowhere']) {
      const response = await call(`${gateway}${path}`);
      expect(response.status, path).toBe(404);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toMatchObject({ status: 404, code: 'ROUTE.NOT_FOUND' });
    }
  });

  it('spreads requests round-robin across the instances of a service', async () => {
    const a = await startEchoUpstream('order-a');
    const b = await startEchoUpstream('order-b');
    const gateway = await startGateway({ 'order-service': [instance('order-service', a.port), instance('order-service', b.port)] });
    const served: string[] = [];
    for (let i = 0; i < 4; i++) served.push(String((await call(`${gateway}/api/products`)).json()['upstream']));
    expect(served.filter((name) => name === 'order-a')).toHaveLength(2);
    expect(served.filter((name) => name === 'order-b')).toHaveLength(2);
    expect(served[0]).not.toBe(served[1]);
  });
});

describe('gateway proxying', () => {
  it('streams a POST body through before the client has finished sending it', async () => {
    let firstChunkArrived: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => (firstChunkArrived = resolve));
    const { port } = await serve((req, res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        if (bytes === 0) firstChunkArrived();
        bytes += chunk.length;
        hash.update(chunk);
      });
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes, sha256: hash.digest('hex'), type: req.headers['content-type'] }));
      });
    });
    const gateway = await startGateway({ 'order-service': [instance('order-service', port)] });

    const body = new PassThrough();
    const first = Buffer.alloc(64 * 1024, 'a');
    const second = Buffer.alloc(256 * 1024, 'b');
    const pending = call(`${gateway}/api/orders`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    body.write(first);
    // If the gateway buffered bodies, the upstream would not see a byte until the end: this waits forever.
    await arrived;
    body.end(second);

    const response = await pending;
    expect(response.status).toBe(201);
    expect(response.json()).toEqual({
      bytes: first.length + second.length,
      sha256: createHash('sha256').update(first).update(second).digest('hex'),
      type: 'application/json',
    });
  });

  it('passes an upstream 404 problem through unchanged', async () => {
    const problem = { type: 'urn:problem:user.not_found', title: 'Not Found', status: 404, detail: 'No user with id 9', code: 'USER.NOT_FOUND' };
    const { port } = await serve((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/problem+json', 'x-custom': 'kept' }).end(JSON.stringify(problem));
    });
    const gateway = await startGateway({ 'user-service': [instance('user-service', port)] });
    const response = await call(`${gateway}/api/users/9`);
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(response.headers['x-custom']).toBe('kept');
    expect(response.json()).toEqual(problem);
  });

  it("sends each header once: the upstream's where it sets one, the gateway's security, CORS, request id and rate-limit headers otherwise", async () => {
    const { port } = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-frame-options': 'SAMEORIGIN', 'x-request-id': req.headers['x-request-id'] }).end('{}');
    });
    const gateway = await startGateway({ 'user-service': [instance('user-service', port)] });
    const response = await call(`${gateway}/api/users/1`, { headers: { 'x-request-id': 'req-once' } });
    expect(response.status).toBe(200);
    // The gateway's own would be DENY.
    expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(response.headers['x-request-id']).toBe('req-once');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(response.headers['ratelimit']).toMatch(/^limit=\d+, remaining=\d+, reset=\d+$/);
    expect(response.headers['content-type']).toBe('application/json');
  });

  it('passes an upstream 500 answer through unchanged', async () => {
    const { port } = await serve((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/problem+json' }).end('{"code":"INTERNAL"}');
    });
    const gateway = await startGateway({ 'user-service': [instance('user-service', port)] });
    const response = await call(`${gateway}/api/users/1`);
    expect(response.status).toBe(500);
    expect(response.text).toBe('{"code":"INTERNAL"}');
  });

  it('forwards X-Request-Id, or creates one, and echoes it to the client', async () => {
    const users = await startEchoUpstream('users');
    const gateway = await startGateway({ 'user-service': [instance('user-service', users.port)] });

    const given = await call(`${gateway}/api/users`, { headers: { 'x-request-id': 'req-abc-123' } });
    expect(given.headers['x-request-id']).toBe('req-abc-123');
    expect(users.seen[0]?.headers['x-request-id']).toBe('req-abc-123');

    const created = await call(`${gateway}/api/users`);
    const id = created.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(users.seen[1]?.headers['x-request-id']).toBe(id);
  });

  it('logs one line per request with method, route, status, latency, upstream instance and request id', async () => {
    const users = await startEchoUpstream('users');
    const lines: Record<string, unknown>[] = [];
    const gateway = await startGateway({ 'user-service': [instance('user-service', users.port, 'users-1')] }, {}, lines);
    const ok = await call(`${gateway}/api/users/7?x=1`, {}, null);
    const refused = await call(`${gateway}/api/users`, { method: 'POST', body: '{}' }, null);
    const completed = () => lines.filter((line) => line['msg'] === 'request completed');
    await eventually(async () => completed().length === 2);
    expect(completed()[0]).toMatchObject({
      level: 'info',
      service: 'gateway',
      method: 'GET',
      route: '/api/users',
      path: '/api/users/7?x=1',
      status: 200,
      upstream_service: 'user-service',
      upstream_instance: 'users-1',
      request_id: ok.headers['x-request-id'],
    });
    expect(completed()[0]?.['latency_ms']).toEqual(expect.any(Number));
    expect(completed()[1]).toMatchObject({ level: 'warn', method: 'POST', status: 401, request_id: refused.headers['x-request-id'] });
    expect(completed()[1]?.['upstream_instance']).toBeUndefined();
    expect(completed().map((line) => line['aborted'])).toEqual([undefined, undefined]);
  });

  it('logs a client that went away before the answer as aborted, and aborts the upstream call', async () => {
    let arrived = (): void => undefined;
    let cut = (): void => undefined;
    const upstreamSaw = new Promise<void>((resolve) => (arrived = resolve));
    const upstreamCut = new Promise<void>((resolve) => (cut = resolve));
    const { port } = await serve((req) => {
      // Never answers: the client leaves first, and the gateway must cut this exchange too.
      req.socket.once('close', cut);
      arrived();
    });
    const lines: Record<string, unknown>[] = [];
    const gateway = await startGateway({ 'user-service': [instance('user-service', port, 'users-1')] }, {}, lines);
    const { host, hostname, port: gatewayPort } = new URL(gateway);
    const client = connect(Number(gatewayPort), hostname);
    await once(client, 'connect');
    client.write(`GET /api/users/7 HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${await devToken()}\r\n\r\n`);
    await upstreamSaw;
    client.destroy();
    await upstreamCut;
    await eventually(async () => lines.some((line) => line['msg'] === 'request completed'));
    expect(lines.find((line) => line['msg'] === 'request completed')).toMatchObject({ method: 'GET', route: '/api/users', upstream_service: 'user-service', aborted: true });
  });

  it('sets X-Forwarded-* and strips hop-by-hop headers on the way up', async () => {
    const users = await startEchoUpstream('users');
    const gateway = await startGateway({ 'user-service': [instance('user-service', users.port)] });
    await call(`${gateway}/api/users`, { headers: { 'x-forwarded-for': '198.51.100.1', 'proxy-authorization': 'Basic abc', authorization: 'Bearer t' } }, null);
    const headers = users.seen[0]?.headers ?? {};
    expect(headers['x-forwarded-for']).toBe('198.51.100.1, 127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toBe(new URL(gateway).host);
    expect(headers['proxy-authorization']).toBeUndefined();
    expect(headers['authorization']).toBe('Bearer t');
  });
});

describe('gateway failures', () => {
  it('does not count a client that hangs up mid-upload against the upstream', async () => {
    let firstChunkArrived: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => (firstChunkArrived = resolve));
    const { port } = await serve((req) => req.once('data', () => firstChunkArrived()));
    const gateway = await startGateway({ 'order-service': [instance('order-service', port)] });

    const socket = connect(Number(new URL(gateway).port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`POST /api/orders HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${await devToken()}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"partial":`);
    await arrived;
    socket.destroy();

    // The instance's breaker and the service's: both counted the call, neither as a failure.
    const breakers = [`order-service@127.0.0.1:${port}`, 'order-service'];
    await eventually(async () => (await breakerCallTotal(gateway, breakers[0] as string)) > 0);
    for (const breaker of breakers) expect((await breakerCalls(gateway, breaker))['failure']).toBeUndefined();
    expect((await call(`${gateway}/health`)).status).toBe(200);
  });


  it('answers 503 GATEWAY.NO_HEALTHY_INSTANCE when no instance is registered', async () => {
    const gateway = await startGateway({ 'user-service': [] });
    const response = await call(`${gateway}/api/users`);
    expect(response.status).toBe(503);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ status: 503, code: 'GATEWAY.NO_HEALTHY_INSTANCE', service: 'user-service' });
    expect(response.json()['request_id']).toBe(response.headers['x-request-id']);
  });

  it('answers 502 while an upstream refuses connections, then 503 fast once its breaker opened', async () => {
    const dead = await deadPort();
    const gateway = await startGateway({ 'user-service': [instance('user-service', dead)] }, { BREAKER_VOLUME_THRESHOLD: '3' });
    for (let i = 0; i < 3; i++) {
      const response = await call(`${gateway}/api/users`);
      expect(response.status).toBe(502);
      expect(response.json()).toMatchObject({ code: 'GATEWAY.UPSTREAM_UNREACHABLE' });
    }
    // Fast: no attempt on the instance any more (its breaker counts every attempt, refused ones too).
    const attemptsBefore = await breakerCallTotal(gateway, `user-service@127.0.0.1:${dead}`);
    expect(attemptsBefore).toBe(3);
    const response = await call(`${gateway}/api/users`);
    expect(await breakerCallTotal(gateway, `user-service@127.0.0.1:${dead}`)).toBe(attemptsBefore);
    expect(response.status).toBe(503);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ code: 'GATEWAY.CIRCUIT_OPEN' });

    expect(await breakerState(gateway, `user-service@127.0.0.1:${dead}`)).toBe(2);
  });

  it('answers 504 within the upstream timeout when an upstream is slow', async () => {
    const { port } = await serve(() => {
      // never answers
    });
    const gateway = await startGateway({ 'user-service': [instance('user-service', port)] }, { UPSTREAM_TIMEOUT_MS: '200' });
    const started = performance.now();
    const response = await call(`${gateway}/api/users`);
    const elapsed = performance.now() - started;
    expect(response.status).toBe(504);
    expect(response.json()).toMatchObject({ code: 'GATEWAY.UPSTREAM_TIMEOUT' });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1_000);
  });

  it('answers 502 GATEWAY.BAD_UPSTREAM_RESPONSE when an upstream does not speak HTTP', async () => {
    const sockets = new Set<Socket>();
    const garbage = createTcpServer((socket) => {
      sockets.add(socket);
      socket.end('this is not HTTP\r\n\r\n');
    });
    garbage.listen(0, '127.0.0.1');
    await once(garbage, 'listening');
    onCleanUp(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => garbage.close(() => resolve()));
    });
    const gateway = await startGateway({ 'user-service': [instance('user-service', (garbage.address() as AddressInfo).port)] });
    const response = await call(`${gateway}/api/users`);
    expect(response.status).toBe(502);
    expect(response.json()).toMatchObject({ code: 'GATEWAY.BAD_UPSTREAM_RESPONSE' });
  });

  it('retries a GET on another instance when one refuses connections', async () => {
    const alive = await startEchoUpstream('alive');
    const gateway = await startGateway({
      'order-service': [instance('order-service', await deadPort(), 'dead'), instance('order-service', alive.port, 'alive')],
    });
    for (let i = 0; i < 6; i++) {
      const response = await call(`${gateway}/api/products`);
      expect(response.status).toBe(200);
      expect(response.json()['upstream']).toBe('alive');
    }
  });

  it('answers 502 to a large POST aimed at a dead instance', async () => {
    const gateway = await startGateway({ 'order-service': [instance('order-service', await deadPort())] }, { MAX_BODY_BYTES: String(8 * 1024 * 1024) });
    const response = await call(`${gateway}/api/orders`, { method: 'POST', body: Buffer.alloc(4 * 1024 * 1024, 'x'), headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(502);
  });

  it('never sends a POST twice: the one aimed at a dead instance fails with 502', async () => {
    const alive = await startEchoUpstream('alive');
    const gateway = await startGateway({
      'order-service': [instance('order-service', await deadPort(), 'dead'), instance('order-service', alive.port, 'alive')],
    });
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) {
      statuses.push((await call(`${gateway}/api/orders`, { method: 'POST', body: `{"n":${i}}`, headers: { 'content-type': 'application/json' } })).status);
    }
    expect(statuses.sort()).toEqual([200, 502]);
    expect(alive.seen.filter((echo) => echo.method === 'POST')).toHaveLength(1);
  });
});
