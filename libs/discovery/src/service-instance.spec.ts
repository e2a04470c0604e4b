import { describe, expect, it } from 'vitest';
import { breakerNameFor, instanceBaseUrl } from './service-instance.js';

describe('instance names', () => {
  it('names the breaker of an instance <service>@<address>:<port>', () => {
    expect(breakerNameFor({ name: 'user-service', address: '10.0.0.5', port: 3001 })).toBe('user-service@10.0.0.5:3001');
  });

  it('names an instance anew when its address or port changed since it was first named', () => {
    const instance = { name: 'user-service', address: '10.0.0.5', port: 3001 };
    expect(breakerNameFor(instance)).toBe('user-service@10.0.0.5:3001');
    instance.port = 3002;
    expect(breakerNameFor(instance)).toBe('user-service@10.0.0.5:3002');
    instance.address = '10.0.0.6';
    expect(breakerNameFor(instance)).toBe('user-service@10.0.0.6:3002');
  });

  it('puts IPv6 addresses of base URLs in brackets', () => {
    expect(instanceBaseUrl({ address: '::1', port: 3001 })).toBe('http://[::1]:3001');
    expect(instanceBaseUrl({ address: '127.0.0.1', port: 3001 })).toBe('http://127.0.0.1:3001');
  });
});
