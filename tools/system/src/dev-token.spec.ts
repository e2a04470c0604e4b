import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allScopes, devJwtSecret, mintDevToken } from './dev-token.js';
import { PublicApi } from './public-api.js';

const key = new TextEncoder().encode(devJwtSecret);

describe('mintDevToken', () => {
  it('mints an HS256 token with every scope for dev-user, valid for an hour, signed with the development secret', async () => {
    const token = await mintDevToken();
    expect(decodeProtectedHeader(token).alg).toBe('HS256');
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'] });
    expect(payload.sub).toBe('dev-user');
    expect(String(payload['scope']).split(' ')).toEqual([...allScopes]);
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3_600);
  });

  it('takes scopes, subject, lifetime, issuer and audience', async () => {
    const token = await mintDevToken({ scopes: ['orders:read'], subject: 'alice', expiresInSeconds: 60, issuer: 'msr', audience: 'gateway' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: 'alice', scope: 'orders:read', iss: 'msr', aud: 'gateway' });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(60);
  });

  it('mints expired tokens on request, and tokens another secret does not verify', async () => {
    await expect(jwtVerify(await mintDevToken({ expiresInSeconds: -60 }), key)).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
    await expect(jwtVerify(await mintDevToken({ secret: 'another-secret-of-at-least-32-characters!' }), key)).rejects.toMatchObject({
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
  });
});

describe('PublicApi bearer tokens', () => {
  let server: Server;
  let baseUrl: string;
  const seen: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers);
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends a development token with every scope when given none', async () => {
    await new PublicApi(baseUrl).call('GET', '/api/products');
    const token = /^Bearer (.+)$/.exec(seen.at(-1)?.authorization ?? '')?.[1] ?? '';
    const { payload } = await jwtVerify(token, key);
    expect(String(payload['scope']).split(' ')).toEqual([...allScopes]);
  });

  it('sends the token it was given, or none for null', async () => {
    const api = new PublicApi(baseUrl, { token: 'given.token.value' });
    await api.call('GET', '/x');
    expect(seen.at(-1)?.authorization).toBe('Bearer given.token.value');
    await api.as(null).call('GET', '/x');
    expect(seen.at(-1)?.authorization).toBeUndefined();
  });
});
