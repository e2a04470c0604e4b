import { describe, expect, it } from 'vitest';
import { describeTarget, httpCheckTarget, tcpCheckTarget } from './health-check.value-object.js';

describe('health check targets', () => {
  it('resolves a seed 000 path against the instance address and port', () => {
    expect(httpCheckTarget('/health', '10.0.0.5', 8080)).toEqual({ kind: 'http', url: 'http://10.0.0.5:8080/health' });
  });

  it('brackets an IPv6 instance address in a resolved URL', () => {
    expect(httpCheckTarget('/health', '::1', 8080)).toEqual({ kind: 'http', url: 'http://[::1]:8080/health' });
  });

  it('keeps a full URL as given', () => {
    expect(httpCheckTarget('http://127.0.0.1:3001/health', 'ignored', 1)).toEqual({
      kind: 'http',
      url: 'http://127.0.0.1:3001/health',
    });
  });

  it('parses host:port and [ipv6]:port for TCP checks', () => {
    expect(tcpCheckTarget('db.local:5432')).toEqual({ kind: 'tcp', host: 'db.local', port: 5432 });
    expect(tcpCheckTarget('[::1]:9092')).toEqual({ kind: 'tcp', host: '::1', port: 9092 });
  });

  it('rejects TCP targets without a valid port', () => {
    expect(tcpCheckTarget('db.local')).toBeUndefined();
    expect(tcpCheckTarget('db.local:0')).toBeUndefined();
    expect(tcpCheckTarget('db.local:70000')).toBeUndefined();
  });

  it('describes targets for logs', () => {
    expect(describeTarget({ kind: 'tcp', host: '::1', port: 80 })).toBe('tcp [::1]:80');
  });
});
