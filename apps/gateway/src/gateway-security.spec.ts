import { Readable } from 'node:stream';
import { generateKeyPair, exportJWK, SignJWT } from 'jose';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { breakerCalls, call, cleanUp, deadPort, devToken, instance, serve, startEchoUpstream, startGateway, type Answer } from './testing/gateway-harness.js';

afterEach(cleanUp, 5_000);

function expectProblem(answer: Answer, status: number, code: string): void {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(answer.json()).toMatchObject({ status, code });
}

async function gatewayWithEcho(env: Record<string, string> = {}) {
  const orders = await startEchoUpstream('orders');
  const users = await startEchoUpstream('users');
  const payments = await startEchoUpstream('payments');
  const gateway = await startGateway(
    {
      'order-service': [instance('order-service', orders.port)],
      'user-service': [instance('user-service', users.port)],
      'payment-service': [instance('payment-service', payments.port)],
    },
    env,
  );
  return { gateway, orders, users, payments };
}

describe('authentication (JWT bearer tokens)', () => {
  it('lets anyone read products and users without a token', async () => {
    const { gateway } = await gatewayWithEcho();
    expect((await call(`${gateway}/api/products`, {}, null)).status).toBe(200);
    expect((await call(`${gateway}/api/users/42`, {}, null)).status).toBe(200);
  });

  it('answers 401 AUTH.TOKEN_MISSING with a Bearer challenge when a protected route gets no token, and forwards nothing', async () => {
    const { gateway, orders, payments, users } = await gatewayWithEcho();
    for (const [method, path] of [
      ['GET', '/api/orders/1'],
      ['POST', '/api/orders'],
      ['GET', '/api/payments?order_id=1'],
      ['GET', '/api/accounts/1'],
      ['POST', '/api/users'],
      ['PUT', '/api/users/1'],
    ] as const) {
      const answer = await call(`${gateway}${path}`, { method, body: method === 'GET' ? undefined : '{}' }, null);
      expectProblem(answer, 401, 'AUTH.TOKEN_MISSING');
      expect(answer.headers['www-authenticate']).toBe('Bearer');
    }
    expect([...orders.seen, ...payments.seen, ...users.seen]).toEqual([]);
  });

  it('answers 401 AUTH.TOKEN_EXPIRED to an expired token', async () => {
    const { gateway, orders } = await gatewayWithEcho();
    const answer = await call(`${gateway}/api/orders/1`, {}, await devToken({ expiresInSeconds: -60 }));
    expectProblem(answer, 401, 'AUTH.TOKEN_EXPIRED');
    expect(answer.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(orders.seen).toEqual([]);
  });

  it('answers 401 AUTH.TOKEN_INVALID to forged, tampered, unsigned and malformed tokens', async () => {
    const { gateway, orders } = await gatewayWithEcho();
    const forged = await devToken({ secret: 'an-attacker-secret-that-is-long-enough!!' });
    const [header, , signature] = (await devToken({ scopes: ['orders:read'] })).split('.');
    const widened = Buffer.from(JSON.stringify({ sub: 'tester', scope: 'orders:read orders:write', exp: 9_999_999_999 })).toString('base64url');
    const tampered = `${header}.${widened}.${signature}`;
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${widened}.`;
    for (const token of [forged, tampered, unsigned, 'not-a-jwt']) {
      const answer = await call(`${gateway}/api/orders/1`, {}, token);
      expectProblem(answer, 401, 'AUTH.TOKEN_INVALID');
    }
    const basic = await call(`${gateway}/api/orders/1`, { headers: { authorization: 'Basic dXNlcjpwYXNz' } }, null);
    expectProblem(basic, 401, 'AUTH.TOKEN_INVALID');
    expect(orders.seen).toEqual([]);
  });

  it('answers 403 AUTH.INSUFFICIENT_SCOPE to a valid token without the needed scope', async () => {
    const { gateway, orders } = await gatewayWithEcho();
    const readOnly = await devToken({ scopes: ['orders:read'] });
    const answer = await call(`${gateway}/api/orders`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }, readOnly);
    expectProblem(answer, 403, 'AUTH.INSUFFICIENT_SCOPE');
    expect(answer.json()['required_scope']).toBe('orders:write');
    expect(answer.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="orders:write"');
    expect(orders.seen).toEqual([]);

    expect((await call(`${gateway}/api/orders/1`, {}, readOnly)).status).toBe(200);
    expectProblem(await call(`${gateway}/api/accounts/1`, {}, readOnly), 403, 'AUTH.INSUFFICIENT_SCOPE');
  });

  it('forwards a request whose token carries the scope, token included', async () => {
    const { gateway, orders } = await gatewayWithEcho();
    const token = await devToken({ scopes: ['orders:write'] });
    const answer = await call(`${gateway}/api/orders`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } }, token);
    expect(answer.status).toBe(200);
    expect(orders.seen[0]).toMatchObject({ method: 'POST', url: '/orders', body: '{"a":1}' });
    expect(orders.seen[0]?.headers['authorization']).toBe(`Bearer ${token}`);
  });

  it('verifies tokens against a JWKS URL, refusing HS256 tokens there', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const { port: jwksPort } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    const { gateway } = await gatewayWithEcho({ JWT_JWKS_URL: `http://127.0.0.1:${jwksPort}/.well-known/jwks.json` });
    const rsToken = await new SignJWT({ scope: 'orders:read' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setSubject('alice').setExpirationTime('5m').sign(privateKey);
    expect((await call(`${gateway}/api/orders/1`, {}, rsToken)).status).toBe(200);
    expectProblem(await call(`${gateway}/api/orders/1`, {}, await devToken()), 401, 'AUTH.TOKEN_INVALID');
  });

  it('answers 503 AUTH.KEYS_UNAVAILABLE when the JWKS cannot be fetched', async () => {
    const { gateway } = await gatewayWithEcho({ JWT_JWKS_URL: `http://127.0.0.1:${await deadPort()}/jwks.json` });
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({ scope: 'orders:read' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setExpirationTime('5m').sign(privateKey);
    expectProblem(await call(`${gateway}/api/orders/1`, {}, token), 503, 'AUTH.KEYS_UNAVAILABLE');
  });
});

describe('routing by method', () => {
  it('answers 405 with Allow for a method no entry of the prefix serves', async () => {
    const { gateway, orders } = await gatewayWithEcho();
    const answer = await call(`${gateway}/api/orders/1`, { method: 'DELETE' });
    expectProblem(answer, 405, 'ROUTE.METHOD_NOT_ALLOWED');
    expect(String(answer.headers['allow']).split(', ').sort()).toEqual(['GET', 'HEAD', 'POST']);
    expectProblem(await call(`${gateway}/api/products`, { method: 'POST', body: '{}' }), 405, 'ROUTE.METHOD_NOT_ALLOWED');
    expect(orders.seen).toEqual([]);
  });
});

describe('rate limiting', () => {
  it('answers 429 problem+json with Retry-After past the limit, with RateLimit headers on every answer', async () => {
    const { gateway } = await gatewayWithEcho({ RATE_LIMIT_PER_MINUTE: '3' });
    const token = await devToken({ subject: 'alice' });
    for (let i = 0; i < 3; i++) {
      const answer = await call(`${gateway}/api/products`, {}, token);
      expect(answer.status).toBe(200);
      expect(answer.headers['ratelimit-policy']).toBe('3;w=60');
      expect(answer.headers['ratelimit']).toMatch(new RegExp(`^limit=3, remaining=${2 - i}, reset=\\d+$`));
    }
    const limited = await call(`${gateway}/api/products`, {}, token);
    expectProblem(limited, 429, 'RATE_LIMIT.EXCEEDED');
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });

  it('counts each client on its own: token subject, else IP address', async () => {
    const { gateway } = await gatewayWithEcho({ RATE_LIMIT_PER_MINUTE: '2' });
    const alice = await devToken({ subject: 'alice' });
    const bob = await devToken({ subject: 'bob' });
    for (let i = 0; i < 2; i++) expect((await call(`${gateway}/api/products`, {}, alice)).status).toBe(200);
    expect((await call(`${gateway}/api/products`, {}, alice)).status).toBe(429);
    // A fresh token for the same subject is the same client.
    expect((await call(`${gateway}/api/products`, {}, await devToken({ subject: 'alice', expiresInSeconds: 900 }))).status).toBe(429);
    expect((await call(`${gateway}/api/products`, {}, bob)).status).toBe(200);
    expect((await call(`${gateway}/api/products`, {}, null)).status).toBe(200);
    expect((await call(`${gateway}/api/products`, {}, null)).status).toBe(200);
    expect((await call(`${gateway}/api/products`, {}, null)).status).toBe(429);
  });

  it('never limits health checks and metrics scrapes', async () => {
    const { gateway } = await gatewayWithEcho({ RATE_LIMIT_PER_MINUTE: '1' });
    for (let i = 0; i < 3; i++) {
      expect((await call(`${gateway}/health`, {}, null)).status).toBe(200);
      expect((await call(`${gateway}/metrics`, {}, null)).status).toBe(200);
    }
  });
});

describe('body size limit', () => {
  it('answers 413 to a declared Content-Length over the limit without forwarding anything', async () => {
    const { gateway, orders } = await gatewayWithEcho({ MAX_BODY_BYTES: '1024' });
    const answer = await call(`${gateway}/api/orders`, { method: 'POST', body: Buffer.alloc(2048, 'x'), headers: { 'content-type': 'application/json' } });
    expectProblem(answer, 413, 'REQUEST.TOO_LARGE');
    expect(answer.json()['max_bytes']).toBe(1024);
    expect(orders.seen).toEqual([]);
  });

  it('lets a client that sends its whole oversized body anyway (fetch) read the 413', async () => {
    const { gateway, orders } = await gatewayWithEcho({ MAX_BODY_BYTES: '1024' });
    const response = await fetch(`${gateway}/api/orders`, {
      method: 'POST',
      body: Buffer.alloc(4 * 1024 * 1024, 'z'),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await devToken()}` },
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await response.json()).toMatchObject({ code: 'REQUEST.TOO_LARGE' });
    expect(orders.seen).toEqual([]);
  });

  it('answers 413 to a streamed (chunked) body once it passes the limit, and the upstream gets no complete request', async () => {
    const { gateway, orders } = await gatewayWithEcho({ MAX_BODY_BYTES: '1024' });
    async function* chunks() {
      for (let i = 0; i < 8; i++) yield Buffer.alloc(512, 'y');
    }
    const answer = await call(`${gateway}/api/orders`, { method: 'POST', body: Readable.from(chunks()), headers: { 'content-type': 'application/json' } });
    expectProblem(answer, 413, 'REQUEST.TOO_LARGE');
    expect(orders.seen).toEqual([]);
    // The cut-off upload is not the upstream's fault: its breaker counted no failure.
    for (const breaker of ['order-service', `order-service@127.0.0.1:${orders.port}`]) expect((await breakerCalls(gateway, breaker))['failure']).toBeUndefined();
  });

  it('forwards a streamed body within the limit whole', async () => {
    const { gateway, orders } = await gatewayWithEcho({ MAX_BODY_BYTES: '1024' });
    async function* chunks() {
      yield Buffer.from('{"part":');
      yield Buffer.from('1}');
    }
    const answer = await call(`${gateway}/api/orders`, { method: 'POST', body: Readable.from(chunks()), headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(200);
    expect(orders.seen[0]?.body).toBe('{"part":1}');
  });
});

describe('browser-facing headers', () => {
  it('sets security headers (helmet) and the request id on every answer: proxied, refused by the proxy, or not proxied', async () => {
    const { gateway } = await gatewayWithEcho();
    // API answers (proxied or refused by the proxy) get the API profile; the gateway's own routes helmet's document defaults.
    for (const [path, frameOptions, policy] of [
      ['/api/products', 'DENY', "default-src 'none';frame-ancestors 'none'"],
      ['/api/orders', 'DENY', "default-src 'none';frame-ancestors 'none'"],
      ['/nowhere', 'SAMEORIGIN', /default-src 'self'/],
    ] as const) {
      const answer = await call(`${gateway}${path}`);
      expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.headers['strict-transport-security']).toMatch(/max-age=/);
      expect(answer.headers['x-frame-options']).toBe(frameOptions);
      expect(answer.headers['content-security-policy']).toMatch(policy);
      expect(answer.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('answers CORS preflights and exposes the request id and rate-limit headers to scripts', async () => {
    const { gateway, orders } = await gatewayWithEcho({ CORS_ORIGINS: 'https://shop.example' });
    const preflight = await request(`${gateway}/api/orders`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    await preflight.body.text();
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(String(preflight.headers['access-control-allow-headers'])).toMatch(/authorization/);
    expect(orders.seen).toEqual([]);

    const answer = await call(`${gateway}/api/products`, { headers: { origin: 'https://shop.example' } });
    expect(answer.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(String(answer.headers['access-control-expose-headers'])).toMatch(/x-request-id.*ratelimit/);
    const foreign = await call(`${gateway}/api/products`, { headers: { origin: 'https://evil.example' } });
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
  });
});
