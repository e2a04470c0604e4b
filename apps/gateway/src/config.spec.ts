import { ConfigError, loadConfig } from '@msr/service-defaults';
import { describe, expect, it } from 'vitest';
import { breakerPolicy, configSchema, defaultRoutes, developmentJwtSecret, jwtKeySource, serviceBreakerPolicy } from './config.js';

describe('gateway config', () => {
  it('defaults to port 8080, a 10 s upstream timeout and the SYSTEM.md routing table', () => {
    const config = loadConfig(configSchema, {});
    expect(config.PORT).toBe(8080);
    expect(config.RATE_LIMIT_PER_MINUTE).toBe(1_200);
    expect(config.MAX_BODY_BYTES).toBe(1_048_576);
    expect(config.UPSTREAM_TIMEOUT_MS).toBe(10_000);
    expect(config.GATEWAY_ROUTES).toEqual(defaultRoutes);
    expect(breakerPolicy(config).timeoutMs).toBe(10_000);
  });

  it('routes users, orders, products, payments and accounts to their services', () => {
    const services = Object.fromEntries(defaultRoutes.map((route) => [route.prefix, route.service]));
    expect(services).toEqual({
      '/api/users': 'user-service',
      '/api/orders': 'order-service',
      '/api/products': 'order-service',
      '/api/payments': 'payment-service',
      '/api/accounts': 'payment-service',
    });
  });

  it('keeps reads of products and users public and asks for the phase-2 scopes everywhere else', () => {
    const access = defaultRoutes.map((route) => `${route.methods?.join(',')} ${route.prefix} ${route.public === true ? 'public' : route.scope}`);
    expect(access).toEqual([
      'GET /api/users public',
      'POST,PUT,PATCH,DELETE /api/users users:write',
      'GET /api/orders orders:read',
      'POST /api/orders orders:write',
      'GET /api/products public',
      'GET /api/payments payments:read',
      'GET /api/accounts payments:read',
    ]);
  });

  it('takes the routing table from GATEWAY_ROUTES, stripping /api unless told otherwise', () => {
    const config = loadConfig(configSchema, { GATEWAY_ROUTES: '[{"prefix":"/api/things","service":"thing-service"}]' });
    expect(config.GATEWAY_ROUTES).toEqual([{ prefix: '/api/things', service: 'thing-service', stripPrefix: '/api' }]);
    const withAccess = loadConfig(configSchema, { GATEWAY_ROUTES: '[{"prefix":"/api/things","service":"t","methods":["get"],"scope":"things:read"}]' });
    expect(withAccess.GATEWAY_ROUTES[0]).toMatchObject({ methods: ['GET'], scope: 'things:read' });
  });

  it('refuses a table that serves one method of a prefix twice, or a public entry with a scope', () => {
    expect(() =>
      loadConfig(configSchema, { GATEWAY_ROUTES: '[{"prefix":"/api/x","service":"a","methods":["GET"]},{"prefix":"/api/x","service":"b","methods":["GET","POST"]}]' }),
    ).toThrow(/one entry only/);
    expect(() => loadConfig(configSchema, { GATEWAY_ROUTES: '[{"prefix":"/api/x","service":"a","public":true,"scope":"s"}]' })).toThrow(/public route/);
    expect(() => loadConfig(configSchema, { GATEWAY_ROUTES: '[{"prefix":"/api/x","service":"a","methods":["FETCH"]}]' })).toThrow(/GATEWAY_ROUTES/);
  });

  it('verifies tokens with JWT_SECRET, a JWKS URL, or else the development secret', () => {
    expect(jwtKeySource(loadConfig(configSchema, {}))).toEqual({ kind: 'secret', secret: developmentJwtSecret, development: true });
    const secret = 'a-production-secret-of-32-characters!';
    expect(jwtKeySource(loadConfig(configSchema, { JWT_SECRET: secret }))).toEqual({ kind: 'secret', secret, development: false });
    expect(jwtKeySource(loadConfig(configSchema, { JWT_JWKS_URL: 'https://id.example/jwks.json' }))).toEqual({ kind: 'jwks', url: 'https://id.example/jwks.json' });
    expect(() => loadConfig(configSchema, { JWT_SECRET: 'short' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig(configSchema, { JWT_SECRET: secret, JWT_JWKS_URL: 'https://id.example/jwks.json' })).toThrow(/not both/);
  });

  it('gives the service breaker a timeout that covers every attempt', () => {
    const config = loadConfig(configSchema, { UPSTREAM_TIMEOUT_MS: '1000', RETRY_MAX_ATTEMPTS: '3', RETRY_MAX_DELAY_MS: '100' });
    expect(serviceBreakerPolicy(config).timeoutMs).toBeGreaterThan(3 * 1_100);
  });

  it('names GATEWAY_ROUTES when it is not JSON or not a valid table', () => {
    expect(() => loadConfig(configSchema, { GATEWAY_ROUTES: 'not json' })).toThrow(/GATEWAY_ROUTES/);
    expect(() => loadConfig(configSchema, { GATEWAY_ROUTES: '[{"prefix":"api/x","service":"s"}]' })).toThrow(ConfigError);
    expect(() => loadConfig(configSchema, { GATEWAY_ROUTES: '[{"prefix":"/api/x","service":"s","stripPrefix":"/other"}]' })).toThrow(/stripPrefix/);
    expect(() =>
      loadConfig(configSchema, { GATEWAY_ROUTES: '[{"prefix":"/api/x","service":"a"},{"prefix":"/api/x","service":"b"}]' }),
    ).toThrow(/one entry only/);
  });

  it('names a bad timeout', () => {
    expect(() => loadConfig(configSchema, { UPSTREAM_TIMEOUT_MS: '-1' })).toThrow(/UPSTREAM_TIMEOUT_MS/);
  });
});
