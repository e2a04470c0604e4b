import { describe, expect, it } from 'vitest';
import { clientResponseHeaders, hasBody, upstreamRequestHeaders } from './forwarding-headers.js';

const client = { ip: '203.0.113.7', proto: 'http', host: 'gateway.example:8080' };

describe('upstreamRequestHeaders', () => {
  it('drops hop-by-hop headers and those named in Connection', () => {
    const headers = upstreamRequestHeaders(
      {
        connection: 'keep-alive, x-hop',
        'keep-alive': 'timeout=5',
        'x-hop': 'secret',
        te: 'trailers',
        upgrade: 'h2c',
        'proxy-authorization': 'Basic abc',
        'transfer-encoding': 'chunked',
        accept: 'application/json',
      },
      client,
      true,
    );
    expect(Object.keys(headers).sort()).toEqual(['accept', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);
  });

  it('drops Host and Expect, which the HTTP client sets itself', () => {
    const headers = upstreamRequestHeaders({ host: 'gateway.example:8080', expect: '100-continue', 'content-type': 'text/plain' }, client, true);
    expect(headers['host']).toBeUndefined();
    expect(headers['expect']).toBeUndefined();
    expect(headers['content-type']).toBe('text/plain');
  });

  it('sets X-Forwarded-Proto and X-Forwarded-Host and starts X-Forwarded-For', () => {
    const headers = upstreamRequestHeaders({}, client, false);
    expect(headers).toMatchObject({ 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'gateway.example:8080' });
  });

  it('appends the client to an existing X-Forwarded-For chain', () => {
    const headers = upstreamRequestHeaders({ 'x-forwarded-for': '198.51.100.1, 198.51.100.2' }, client, false);
    expect(headers['x-forwarded-for']).toBe('198.51.100.1, 198.51.100.2, 203.0.113.7');
  });

  it('passes X-Request-Id and end-to-end headers through', () => {
    const headers = upstreamRequestHeaders({ 'x-request-id': 'req-1', authorization: 'Bearer t', cookie: 'a=b' }, client, false);
    expect(headers).toMatchObject({ 'x-request-id': 'req-1', authorization: 'Bearer t', cookie: 'a=b' });
  });

  it('keeps Content-Length only when a body is forwarded', () => {
    expect(upstreamRequestHeaders({ 'content-length': '12' }, client, true)['content-length']).toBe('12');
    expect(upstreamRequestHeaders({ 'content-length': '12' }, client, false)['content-length']).toBeUndefined();
  });
});

describe('clientResponseHeaders', () => {
  it('passes end-to-end headers, including repeated Set-Cookie, and drops hop-by-hop ones', () => {
    const headers = clientResponseHeaders({
      'content-type': 'application/problem+json',
      'set-cookie': ['a=1', 'b=2'],
      'transfer-encoding': 'chunked',
      connection: 'close',
      'keep-alive': 'timeout=5',
      missing: undefined,
    });
    expect(headers).toEqual({ 'content-type': 'application/problem+json', 'set-cookie': ['a=1', 'b=2'] });
  });
});

describe('hasBody', () => {
  it('sees a body in a non-zero Content-Length or any Transfer-Encoding', () => {
    expect(hasBody({ 'content-length': '5' })).toBe(true);
    expect(hasBody({ 'transfer-encoding': 'chunked' })).toBe(true);
    expect(hasBody({ 'content-length': '0' })).toBe(false);
    expect(hasBody({})).toBe(false);
  });
});
