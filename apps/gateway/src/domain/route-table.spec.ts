import { describe, expect, it } from 'vitest';
import { allowedMethods, byMostSpecific, entryFor, groupByPrefix, publicLocation, upstreamPath, type GatewayRoute } from './route-table.js';

const users: GatewayRoute = { prefix: '/api/users', service: 'user-service', stripPrefix: '/api' };

describe('upstreamPath', () => {
  it('strips the /api prefix', () => {
    expect(upstreamPath(users, '/api/users/1')).toBe('/users/1');
  });

  it('keeps the query string as sent', () => {
    expect(upstreamPath(users, '/api/users?page=2&limit=5')).toBe('/users?page=2&limit=5');
    expect(upstreamPath(users, '/api/users/1?q=a%2Fb')).toBe('/users/1?q=a%2Fb');
  });

  it('answers / when the whole path is stripped', () => {
    const api: GatewayRoute = { prefix: '/api', service: 'any', stripPrefix: '/api' };
    expect(upstreamPath(api, '/api')).toBe('/');
    expect(upstreamPath(api, '/api?x=1')).toBe('/?x=1');
  });

  it('strips nothing with an empty stripPrefix', () => {
    expect(upstreamPath({ ...users, stripPrefix: '' }, '/api/users/1')).toBe('/api/users/1');
  });

  it('strips the prefix whatever its case, as Express matched it', () => {
    expect(upstreamPath(users, '/API/users/1')).toBe('/users/1');
  });
});

describe('byMostSpecific', () => {
  it('puts longer prefixes first so they win over shorter overlapping ones', () => {
    const orders: GatewayRoute = { prefix: '/api/orders', service: 'order-service', stripPrefix: '/api' };
    const exports: GatewayRoute = { prefix: '/api/orders/export', service: 'export-service', stripPrefix: '/api' };
    expect(byMostSpecific([orders, exports]).map((route) => route.service)).toEqual(['export-service', 'order-service']);
  });
});

describe('publicLocation', () => {
  const route = users;

  it('puts the stripped prefix back on a path-absolute location', () => {
    expect(publicLocation(route, '/users/42')).toBe('/api/users/42');
  });

  it('leaves absolute URLs, network-path and relative references alone', () => {
    expect(publicLocation(route, 'https://example.com/users/42')).toBe('https://example.com/users/42');
    expect(publicLocation(route, '//cdn.example.com/x')).toBe('//cdn.example.com/x');
    expect(publicLocation(route, 'users/42')).toBe('users/42');
  });
});

describe('entryFor and allowedMethods', () => {
  const reads: GatewayRoute = { ...users, methods: ['GET'], public: true };
  const writes: GatewayRoute = { ...users, methods: ['POST', 'DELETE'], scope: 'users:write' };
  const rest: GatewayRoute = { ...users, scope: 'admin' };

  it('picks the entry listing the method, HEAD riding on GET', () => {
    const routes = { prefix: '/api/users', entries: [reads, writes] };
    expect(entryFor(routes, 'GET')).toBe(reads);
    expect(entryFor(routes, 'HEAD')).toBe(reads);
    expect(entryFor(routes, 'DELETE')).toBe(writes);
    expect(entryFor(routes, 'PUT')).toBeUndefined();
    expect(allowedMethods(routes).sort()).toEqual(['DELETE', 'GET', 'HEAD', 'POST']);
  });

  it('falls back to the entry that lists no methods', () => {
    const routes = { prefix: '/api/users', entries: [rest, reads] };
    expect(entryFor(routes, 'GET')).toBe(reads);
    expect(entryFor(routes, 'PATCH')).toBe(rest);
    expect(allowedMethods(routes)).toEqual(['*']);
  });

  it('groups entries by prefix, most specific prefix first', () => {
    const exports: GatewayRoute = { prefix: '/api/users/export', service: 'export-service', stripPrefix: '/api' };
    expect(groupByPrefix([reads, exports, writes])).toEqual([
      { prefix: '/api/users/export', entries: [exports] },
      { prefix: '/api/users', entries: [reads, writes] },
    ]);
  });
});
