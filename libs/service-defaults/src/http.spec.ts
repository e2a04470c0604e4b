import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Health } from './health.js';
import { closeServer, createHttpApp, listen } from './http.js';
import { createLogger } from './logger.js';
import { Metrics } from './metrics.js';
import { ProblemError, validate } from './problem.js';

class TeapotError extends Error {}

describe('createHttpApp', () => {
  let server: Server;
  let base: string;
  let dependencyUp = true;
  const health = new Health().addCheck('dependency', async () => {
    if (!dependencyUp) throw new Error('dependency down');
  });

  beforeAll(async () => {
    const app = createHttpApp({
      logger: createLogger({ service: 'test', level: 'silent' }),
      health,
      metrics: new Metrics('test'),
      bodyLimit: '1kb',
      mapError: (error) => (error instanceof TeapotError ? new ProblemError(409, 'TEST.TEAPOT', 'mapped domain error') : undefined),
      routes: (app) => {
        app.post('/things', (req, res) => {
          const body = validate(z.strictObject({ name: z.string().min(1), count: z.number().int().positive() }), req.body, 'body');
          res.status(201).json(body);
        });
        app.get('/teapot', () => {
          throw new TeapotError();
        });
        app.get('/boom', () => {
          throw new Error('secret internals');
        });
      },
    });
    ({ server } = await listen(app, 0, '127.0.0.1'));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(() => closeServer(server));

  const post = (path: string, body: string) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('answers malformed JSON with a 400 problem', async () => {
    const response = await post('/things', '{"name": ');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await response.json()).toMatchObject({ status: 400, code: 'REQUEST.MALFORMED_JSON' });
  });

  it('names each invalid field', async () => {
    const response = await post('/things', JSON.stringify({ name: '', count: 1.5 }));
    const body = (await response.json()) as { detail: string; invalid_params: Array<{ name: string }> };
    expect(response.status).toBe(400);
    expect(body.invalid_params.map((p) => p.name).sort()).toEqual(['count', 'name']);
    expect(body.detail).toMatch(/count/);
  });

  it('names each unknown field of a strict schema', async () => {
    const response = await post('/things', JSON.stringify({ name: 'x', count: 1, role: 'admin', extra: true }));
    const body = (await response.json()) as { invalid_params: Array<{ name: string }> };
    expect(response.status).toBe(400);
    expect(body.invalid_params.map((p) => p.name).sort()).toEqual(['extra', 'role']);
  });

  it('answers an oversized body with 413', async () => {
    const response = await post('/things', JSON.stringify({ name: 'x'.repeat(2_000), count: 1 }));
    expect(response.status).toBe(413);
  });

  it('maps domain errors through mapError', async () => {
    const response = await fetch(`${base}/teapot`);
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ code: 'TEST.TEAPOT' });
  });

  it('hides internals of unexpected errors behind a generic 500', async () => {
    const response = await fetch(`${base}/boom`);
    const text = await response.text();
    expect(response.status).toBe(500);
    expect(text).not.toMatch(/secret internals/);
  });

  it('answers unknown routes with a 404 problem', async () => {
    const response = await fetch(`${base}/nope`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('echoes a well-formed X-Request-Id and makes one otherwise', async () => {
    const echoed = await fetch(`${base}/health`, { headers: { 'x-request-id': 'abc-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('abc-123');
    const made = await fetch(`${base}/health`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports readiness from its checks and turns 503 when draining', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    dependencyUp = false;
    const failing = await fetch(`${base}/health`);
    expect(failing.status).toBe(503);
    expect(await failing.json()).toMatchObject({ status: 'unhealthy', checks: { dependency: 'dependency down' } });
    dependencyUp = true;
    health.startDraining();
    expect((await fetch(`${base}/health`)).status).toBe(503);
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
  });

  it('exposes Prometheus metrics labelled by route', async () => {
    await fetch(`${base}/teapot`);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/http_server_request_duration_seconds_count\{[^}]*route="\/teapot"/);
    expect(text).toMatch(/service="test"/);
  });
});

describe('access log', () => {
  it('logs method, URL, status and request id of each request, and never its headers (bearer tokens)', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({ service: 'test', level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
    const app = createHttpApp({ logger, health: new Health(), metrics: new Metrics('test'), routes: (app) => app.get('/things', (_req, res) => void res.json([])) });
    const { server, port } = await listen(app, 0, '127.0.0.1');
    try {
      await fetch(`http://127.0.0.1:${port}/things?page=2`, { headers: { authorization: 'Bearer secret.token.value', 'x-request-id': 'req-1' } });
      const line = lines.find((entry) => entry['msg'] === 'request completed');
      expect(line).toMatchObject({ req: { method: 'GET', url: '/things?page=2', id: 'req-1' }, res: { status_code: 200 }, request_id: 'req-1' });
      expect(JSON.stringify(lines)).not.toContain('secret.token.value');
    } finally {
      await closeServer(server);
    }
  });
});
