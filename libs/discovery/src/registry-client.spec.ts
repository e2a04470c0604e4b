import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@msr/service-defaults';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RegistryError } from './errors.js';
import { RegistryClient, selfRegistration, type Registration } from './registry-client.js';

interface Recorded {
  method: string;
  url: string;
  body: unknown;
  headers: IncomingMessage['headers'];
}

/**
 * A stand-in registry on a real socket that records every request and answers what the test
 * says: `answer(method, url)` returns a status and body.
 */
class RecordingRegistry {
  requests: Recorded[] = [];
  answer: (method: string, url: string) => { status: number; body?: unknown; headers?: Record<string, string>; stream?: string[] } = (method) =>
    method === 'POST' ? { status: 201, body: { status: 'registered' } } : { status: 200, body: {} };
  private readonly server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', body, headers: req.headers });
    const { status, body: answer, headers, stream } = this.answer(req.method ?? '', req.url ?? '');
    if (stream !== undefined) {
      res.writeHead(status, { 'content-type': 'text/event-stream', ...headers });
      for (const chunk of stream) res.write(chunk);
      res.end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(answer === undefined ? '' : JSON.stringify(answer));
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  count(method: string, urlPart = ''): number {
    return this.requests.filter((r) => r.method === method && r.url.includes(urlPart)).length;
  }
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

async function until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const logger = createLogger({ service: 'test', level: 'silent' });

describe('RegistryClient', () => {
  let registry: RecordingRegistry;
  let client: RegistryClient;
  const registrations: Registration[] = [];

  let baseUrl: string;

  beforeEach(async () => {
    registry = new RecordingRegistry();
    baseUrl = await registry.start();
    client = new RegistryClient({ registryUrl: `${baseUrl}/`, logger, timeoutMs: 1_000 });
  });

  afterEach(async () => {
    await Promise.all(registrations.splice(0).map((registration) => registration.deregister().catch(() => undefined)));
    await registry.stop();
  });

  async function register(ttlMs = 3_000, id: string | null = 'users-1'): Promise<Registration> {
    const registration = await client.register({
      ...(id === null ? {} : { id }),
      name: 'user-service',
      address: '127.0.0.1',
      port: 3001,
      tags: ['v1'],
      meta: { version: '1.0.0' },
      ttlMs,
      healthCheck: { http: 'http://127.0.0.1:3001/health', intervalMs: 5_000, timeoutMs: 1_000 },
    });
    registrations.push(registration);
    return registration;
  }

  it('registers with the seed 000 body, a ttl and Go-style duration strings', async () => {
    const registration = await register();
    expect(registration.id).toBe('users-1');
    const { headers: _headers, ...first } = registry.requests[0] ?? { headers: {} };
    expect(first).toEqual({
      method: 'POST',
      url: '/v1/services',
      body: {
        service: { id: 'users-1', name: 'user-service', address: '127.0.0.1', port: 3001, tags: ['v1'], meta: { version: '1.0.0' } },
        health_check: { http: 'http://127.0.0.1:3001/health', interval: '5000ms', timeout: '1000ms' },
        ttl: '3000ms',
      },
    });
  });

  it('makes up an id <name>-<uuid> when none is given', async () => {
    const registration = await register(3_000, null);
    expect(registration.id).toMatch(/^user-service-[0-9a-f-]{36}$/);
  });

  it('heartbeats every ttl/3', async () => {
    const started = Date.now();
    await register(300);
    await until(() => registry.count('PUT', '/v1/services/users-1/heartbeat') >= 3);
    // Three beats at 100 ms intervals take about 300 ms; far fewer would mean a wrong interval.
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('registers again at once when the registry does not know the instance', async () => {
    await register(150);
    registry.answer = (method) => (method === 'PUT' ? { status: 404, body: { code: 'INSTANCE.NOT_FOUND' } } : { status: 201 });
    await until(() => registry.count('POST') >= 2);
    const [first, again] = registry.requests.filter((r) => r.method === 'POST');
    expect(again?.body).toEqual(first?.body);
  });

  it('keeps heartbeating through registry errors without throwing', async () => {
    await register(150);
    registry.answer = () => ({ status: 500, body: { detail: 'boom' } });
    await until(() => registry.count('PUT') >= 3);
    registry.answer = () => ({ status: 200, body: {} });
    const beforeRecovery = registry.count('PUT');
    await until(() => registry.count('PUT') > beforeRecovery);
  });

  it('deregisters: stops heartbeats, sends DELETE once, and is harmless to repeat', async () => {
    const registration = await register(90);
    await until(() => registry.count('PUT') >= 1);
    await registration.deregister();
    await registration.deregister();
    expect(registry.count('DELETE', '/v1/services/users-1')).toBe(1);
    const after = registry.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(registry.requests.length).toBe(after);
  });

  it('treats an instance the registry no longer knows as deregistered', async () => {
    const registration = await register();
    registry.answer = () => ({ status: 404 });
    await expect(registration.deregister()).resolves.toBeUndefined();
  });

  it('fails registration with the registry\'s reason', async () => {
    registry.answer = () => ({ status: 400, body: { detail: 'Invalid body: service.port: must be between 1 and 65535' } });
    const failure = register().catch((error: unknown) => error);
    const error = await failure;
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).status).toBe(400);
    expect((error as RegistryError).message).toContain('service.port');
  });

  it('fails registration when the registry is unreachable', async () => {
    const unreachable = new RegistryClient({ registryUrl: 'http://127.0.0.1:1', logger, timeoutMs: 500 });
    await expect(unreachable.register({ name: 'svc', address: '127.0.0.1', port: 1, ttlMs: 1_000 })).rejects.toMatchObject({
      name: 'RegistryError',
      status: undefined,
    });
  });

  it('rejects a non-positive ttl before calling the registry', async () => {
    await expect(client.register({ name: 'svc', address: '127.0.0.1', port: 1, ttlMs: 0 })).rejects.toBeInstanceOf(RangeError);
    expect(registry.requests).toEqual([]);
  });

  it('discovers healthy instances by default, and all on request', async () => {
    const listed = [
      { id: 'a', name: 'svc', address: '10.0.0.1', port: 80, tags: null, meta: null, health: 'passing', last_seen: '2025-01-01T00:00:00Z' },
    ];
    registry.answer = () => ({ status: 200, body: listed });
    expect(await client.discover('svc')).toEqual([{ ...listed[0], tags: [], meta: {} }]);
    await client.discover('svc', { healthyOnly: false });
    expect(registry.requests.map((r) => r.url)).toEqual(['/v1/services/svc/discover?healthy=true', '/v1/services/svc/discover']);
  });

  it('refuses a discover answer that is not a list of instances', async () => {
    registry.answer = () => ({ status: 200, body: [{ id: 'a' }] });
    await expect(client.discover('svc')).rejects.toBeInstanceOf(RegistryError);
  });

  it('sends the registry token with every call when it has one', async () => {
    const withToken = new RegistryClient({ registryUrl: baseUrl, logger, timeoutMs: 1_000, token: 'secret-token-0123456789' });
    const registration = await withToken.register({ id: 'x', name: 'svc', address: '127.0.0.1', port: 1, ttlMs: 60_000 });
    await registration.deregister();
    registry.answer = () => ({ status: 200, body: [] });
    await withToken.discover('svc');
    expect(registry.requests.map((r) => [r.method, r.headers.authorization])).toEqual([
      ['POST', 'Bearer secret-token-0123456789'],
      ['DELETE', 'Bearer secret-token-0123456789'],
      ['GET', 'Bearer secret-token-0123456789'],
    ]);
  });

  it('looks up with filters and a blocking query, and reads the index and warm-up headers', async () => {
    registry.answer = () => ({ status: 200, body: [], headers: { 'x-registry-index': '1234', 'x-registry-warming': 'true' } });
    const answer = await client.lookup('svc', { tags: ['v2', 'canary'], meta: { version: '2.0.0' }, index: 1200, waitMs: 30_000 });
    expect(answer).toEqual({ instances: [], index: 1234, warming: true });
    expect(registry.requests[0]?.url).toBe('/v1/services/svc/discover?healthy=true&tag=v2&tag=canary&meta=version%3A2.0.0&index=1200&wait=30000ms');
  });

  it('reads the watch stream: open, a snapshot, then changes', async () => {
    const passing = { id: 'a', name: 'svc', address: '10.0.0.1', port: 80, tags: [], meta: {}, health: 'passing', last_seen: '2025-01-01T00:00:00Z' };
    registry.answer = () => ({
      status: 200,
      headers: { 'x-registry-index': '10' },
      stream: [
        'retry: 1000\n\n',
        `id: 10\nevent: snapshot\ndata: ${JSON.stringify({ index: 10, type: 'snapshot', warming: false, instances: [passing] })}\n\n: keep-alive\n\n`,
        `id: 11\nevent: removed\ndata: ${JSON.stringify({ index: 11, type: 'removed', service: 'svc', instance: passing, reason: 'lease_expired' })}\n`,
        '\n',
      ],
    });
    const events = [];
    for await (const event of client.watch({ signal: new AbortController().signal, index: 9 })) events.push(event);
    expect(registry.requests[0]?.url).toBe('/v1/watch?index=9');
    expect(events).toEqual([
      { type: 'open', index: 10, warming: false },
      { type: 'snapshot', index: 10, warming: false, instances: [passing] },
      { type: 'removed', index: 11, service: 'svc', instance: passing, reason: 'lease_expired' },
    ]);
  });

  it('fails the watch with the status when the registry has no watch endpoint, and on unreadable events', async () => {
    registry.answer = () => ({ status: 404, body: { detail: 'No route' } });
    const consume = async () => {
      for await (const event of client.watch({ signal: new AbortController().signal, service: 'svc' })) void event;
    };
    await expect(consume()).rejects.toMatchObject({ name: 'RegistryError', status: 404 });
    expect(registry.requests[0]?.url).toBe('/v1/services/svc/watch');
    registry.answer = () => ({ status: 200, stream: ['event: added\ndata: {"index": "x"}\n\n'] });
    await expect(consume()).rejects.toMatchObject({ name: 'RegistryError' });
  });
});

describe('selfRegistration', () => {
  it('registers the instance with an HTTP check on its own /health and the given lease', () => {
    expect(selfRegistration('user-service', '10.0.0.7', 3001, 9_000)).toEqual({
      name: 'user-service',
      address: '10.0.0.7',
      port: 3001,
      ttlMs: 9_000,
      healthCheck: { http: 'http://10.0.0.7:3001/health', intervalMs: 5_000, timeoutMs: 1_000 },
    });
  });
});
