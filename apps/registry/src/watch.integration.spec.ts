import type { Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { closeServer, createLogger, Health, listen, loadConfig, Metrics } from '@msr/service-defaults';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApp } from './app.js';
import { configSchema } from './config.js';
import { createRegistryRuntime, type RegistryRuntime } from './registry-runtime.js';

interface Sse {
  id: string | undefined;
  event: string;
  data: { index: number; type: string; service?: string; instance?: { id: string; health: string }; instances?: Array<{ id: string }>; warming?: boolean; reason?: string };
}

/** Reads a watch stream over real HTTP, collecting its events as they arrive. */
class StreamReader {
  readonly events: Sse[] = [];
  comments = 0;
  status = 0;
  contentType = '';
  // Its own connection pool, destroyed on close: a shared pool reconnects after an abort and
  // leaves an idle socket behind that holds the server's close up.
  private readonly agent = new Agent();
  readonly done: Promise<void>;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.done = this.read(url, headers).catch(() => undefined);
  }

  private async read(url: string, headers: Record<string, string>): Promise<void> {
    const response = await request(url, { headers, dispatcher: this.agent });
    this.status = response.statusCode;
    this.contentType = String(response.headers['content-type']);
    response.body.setEncoding('utf8');
    let buffer = '';
    for await (const chunk of response.body as AsyncIterable<string>) {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = new Map<string, string>();
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) this.comments += 1;
          else fields.set(line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2));
        }
        const data = fields.get('data');
        if (data !== undefined) this.events.push({ id: fields.get('id'), event: fields.get('event') ?? 'message', data: JSON.parse(data) as Sse['data'] });
      }
    }
  }

  /** `event:instance@index` for each event. */
  get summary(): string[] {
    return this.events.map((e) => (e.event === 'snapshot' ? `snapshot[${(e.data.instances ?? []).map((i) => i.id).join(',')}]` : `${e.event}:${e.data.instance?.id}`));
  }

  close(): void {
    void this.agent.destroy();
  }
}

describe('watch streams (Server-Sent Events) over real sockets', () => {
  let runtime: RegistryRuntime;
  let server: Server;
  let baseUrl: string;
  const metrics = new Metrics('registry');
  const readers: StreamReader[] = [];

  beforeAll(async () => {
    const logger = createLogger({ service: 'registry', level: 'silent' });
    runtime = createRegistryRuntime({
      config: loadConfig(configSchema, { SWEEP_INTERVAL_MS: '60000', WARMUP_MS: '0', WATCH_BUFFER_SIZE: '5', MAX_INSTANCES_PER_SERVICE: '10000' }),
      logger,
      metricsRegistry: metrics.registry,
    });
    const app = createApp({ logger, health: new Health(), metrics, registry: runtime.service, hub: runtime.hub, watchKeepAliveMs: 50 });
    const listening = await listen(app, 0, '127.0.0.1');
    server = listening.server;
    baseUrl = `http://127.0.0.1:${listening.port}`;
  });

  afterAll(async () => {
    for (const reader of readers) reader.close();
    runtime.closeWatches();
    await closeServer(server);
    await runtime.stop();
  });

  beforeEach(() => {
    for (const reader of readers.splice(0)) reader.close();
    for (const instance of runtime.catalog.all()) runtime.catalog.deregister(instance.id);
  });

  function watch(path: string, headers: Record<string, string> = {}): StreamReader {
    const reader = new StreamReader(`${baseUrl}${path}`, headers);
    readers.push(reader);
    return reader;
  }

  function register(id: string, name = 'svc', meta: Record<string, string> = {}): void {
    runtime.service.register({ id, name, address: '127.0.0.1', port: 3000, tags: [], meta });
  }

  it('streams a snapshot and then every change, in index order, with the index as the event id', async () => {
    register('a');
    const reader = watch('/v1/watch');
    await vi.waitFor(() => expect(reader.events).toHaveLength(1));
    expect(reader.contentType).toBe('text/event-stream; charset=utf-8');
    register('b');
    register('p', 'other');
    runtime.service.deregister('a');
    await vi.waitFor(() => expect(reader.events).toHaveLength(4));
    expect(reader.summary).toEqual(['snapshot[a]', 'added:b', 'added:p', 'removed:a']);
    const indexes = reader.events.map((e) => e.data.index);
    const first = indexes[0] ?? Number.NaN;
    expect(indexes.slice(1)).toEqual([first + 1, first + 2, first + 3]);
    expect(reader.events.map((e) => Number(e.id))).toEqual(indexes);
    expect(reader.events[3]?.data).toMatchObject({ type: 'removed', service: 'svc', reason: 'deregistered' });
  });

  it('streams one service only on its own watch', async () => {
    const reader = watch('/v1/services/svc/watch');
    await vi.waitFor(() => expect(reader.events).toHaveLength(1));
    register('p', 'other');
    register('a');
    await vi.waitFor(() => expect(reader.events).toHaveLength(2));
    expect(reader.summary).toEqual(['snapshot[]', 'added:a']);
  });

  it('resumes after Last-Event-ID with exactly the events missed', async () => {
    register('a');
    const seen = runtime.catalog.index;
    register('b');
    runtime.service.deregister('a');
    const reader = watch('/v1/watch', { 'last-event-id': String(seen) });
    await vi.waitFor(() => expect(reader.events).toHaveLength(2));
    expect(reader.summary).toEqual(['added:b', 'removed:a']);
  });

  it('sends keep-alive comments on an idle stream', async () => {
    const reader = watch('/v1/watch');
    await vi.waitFor(() => expect(reader.comments).toBeGreaterThanOrEqual(2));
  });

  it('rejects a malformed index', async () => {
    const response = await fetch(`${baseUrl}/v1/watch?index=-3`);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  });

  it('cuts off a watcher that stops reading, while the others get every event', async () => {
    const reader = watch('/v1/watch');
    await vi.waitFor(() => expect(reader.events).toHaveLength(1));
    // A client that sends its request and then never reads a byte.
    const stuck: Socket = connect(Number(new URL(baseUrl).port), '127.0.0.1');
    await new Promise((resolve) => stuck.once('connect', resolve));
    stuck.write('GET /v1/watch HTTP/1.1\r\nHost: registry\r\nAccept: text/event-stream\r\n\r\n');
    stuck.pause();
    await vi.waitFor(() => expect(runtime.hub.size).toBe(2));
    // Large events fill the stuck socket's buffers quickly; then five more queue, and one more
    // drops it. One event per turn of the event loop, so the reading watcher keeps up.
    const bulky = { blob: 'x'.repeat(60_000) };
    let registered = 0;
    while (runtime.hub.size === 2 && registered < 2_000) {
      register(`bulk-${(registered += 1)}`, 'bulk', bulky);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(runtime.hub.size).toBe(1);
    expect(await metrics.registry.getSingleMetricAsString('registry_watchers_dropped_total')).toMatch(/registry_watchers_dropped_total\{service="registry"\} 1/);
    stuck.destroy();
    await vi.waitFor(() => expect(reader.events).toHaveLength(1 + registered), { timeout: 10_000 });
    expect(reader.events.slice(1).every((e, i) => e.data.instance?.id === `bulk-${i + 1}`)).toBe(true);
  });
});
