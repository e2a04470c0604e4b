import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { BreakerRegistry } from '@msr/circuit-breaker';
import { createLoadBalancer, OutlierDetector, type ServiceInstance } from '@msr/discovery';
import { createLogger } from '@msr/service-defaults';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatewayError } from '../domain/gateway.errors.js';
import { UndiciUpstreamClient } from '../infrastructure/undici-upstream.client.js';
import { Cancellation } from './cancellation.js';
import { ProxyService, type ForwardRequest } from './proxy.service.js';

// Real upstream servers on loopback, the real undici upstream client and breakers: what is
// under test is how the proxy picks, ejects and retries instances.

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An upstream that answers 200 (or `status`), or resets every connection while `reset` is set. */
class Upstream {
  hits = 0;
  status = 200;
  reset = false;
  port = 0;
  private readonly server: Server;

  constructor(readonly id: string) {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      this.hits += 1;
      if (this.reset) {
        req.socket.destroy();
        return;
      }
      req.resume();
      res.writeHead(this.status, { 'content-type': 'text/plain' }).end(this.id);
    });
  }

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    cleanups.push(() => {
      this.server.closeAllConnections();
      return new Promise<void>((resolve) => this.server.close(() => resolve()));
    });
    return this;
  }

  get instance(): ServiceInstance {
    return { id: this.id, name: 'user-service', address: '127.0.0.1', port: this.port, tags: [], meta: {}, health: 'passing', last_seen: new Date().toISOString() };
  }
}

interface Harness {
  proxy: ProxyService;
  outliers: OutlierDetector;
  logLines: Array<Record<string, unknown>>;
}

function harness(upstreams: Upstream[], options: { outliers?: boolean; policy?: ConstructorParameters<typeof OutlierDetector>[0]['policy'] } = {}): Harness {
  const logLines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ service: 'gateway-test', level: 'info', destination: sink });
  const outliers = new OutlierDetector({ logger, policy: { baseEjectionMs: 60_000, ...options.policy } });
  const upstream = new UndiciUpstreamClient({ bodyTimeoutMs: 2_000 });
  cleanups.push(() => upstream.close());
  const proxy = new ProxyService({
    discovery: { instances: async () => upstreams.map((u) => u.instance) },
    balancer: createLoadBalancer('round_robin'),
    breakers: new BreakerRegistry({ logger, policy: { timeoutMs: 2_000, volumeThreshold: 1_000, errorThresholdPercentage: 50, resetTimeoutMs: 60_000, rollingCountTimeoutMs: 10_000 } }),
    upstream,
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
    logger,
    ...(options.outliers === false ? {} : { outliers }),
  });
  return { proxy, outliers, logLines };
}

function request(method = 'GET'): ForwardRequest {
  return { service: 'user-service', method, path: '/users/1', headers: {}, cancel: new Cancellation() };
}

/** Forwards and reads the answer: `<status> <upstream id>`, or the gateway error code. */
async function forward(proxy: ProxyService, method = 'GET'): Promise<string> {
  try {
    const { response } = await proxy.forward(request(method));
    let body = '';
    for await (const chunk of response.body) body += String(chunk);
    return `${response.statusCode} ${body}`;
  } catch (error) {
    if (error instanceof GatewayError) return error.code;
    throw error;
  }
}

async function upstreams(...ids: string[]): Promise<Upstream[]> {
  return Promise.all(ids.map((id) => new Upstream(id).start()));
}

describe('ProxyService passive ejection', () => {
  it('takes an instance that resets connections out of rotation at once, with no failed GET', async () => {
    const [a, bad, c] = await upstreams('a', 'bad', 'c');
    if (bad === undefined) throw new Error('three upstreams expected');
    bad.reset = true;
    const { proxy, outliers } = harness([a, bad, c].filter((u): u is Upstream => u !== undefined));
    const answers: string[] = [];
    for (let i = 0; i < 12; i += 1) answers.push(await forward(proxy));
    expect(answers.every((answer) => answer === '200 a' || answer === '200 c')).toBe(true);
    expect(bad.hits).toBe(1);
    expect(outliers.isEjected(bad.instance)).toBe(true);
  });

  it('ejects an instance after a run of 5xx answers, which are passed through until then', async () => {
    const [a, sick] = await upstreams('a', 'sick');
    if (a === undefined || sick === undefined) throw new Error('two upstreams expected');
    sick.status = 500;
    const { proxy } = harness([a, sick], { policy: { consecutiveFailures: 3 } });
    const answers: string[] = [];
    for (let i = 0; i < 12; i += 1) answers.push(await forward(proxy));
    expect(answers.filter((answer) => answer === '500 sick')).toHaveLength(3);
    expect(sick.hits).toBe(3);
  });

  it('brings an ejected instance back once its ejection time is over', async () => {
    const [a, flaky] = await upstreams('a', 'flaky');
    if (a === undefined || flaky === undefined) throw new Error('two upstreams expected');
    flaky.reset = true;
    const { proxy } = harness([a, flaky], { policy: { baseEjectionMs: 200 } });
    await forward(proxy);
    await forward(proxy);
    expect(flaky.hits).toBe(1);
    flaky.reset = false;
    await vi.waitFor(
      async () => {
        await forward(proxy);
        expect(flaky.hits).toBeGreaterThan(1);
      },
      { timeout: 2_000, interval: 20 },
    );
  });

  it('never ejects more than half of the instances; GETs to the rest still move elsewhere', async () => {
    const [bad1, bad2, good] = await upstreams('bad1', 'bad2', 'good');
    if (bad1 === undefined || bad2 === undefined || good === undefined) throw new Error('three upstreams expected');
    bad1.reset = true;
    bad2.reset = true;
    const { proxy, outliers } = harness([bad1, bad2, good]);
    const answers: string[] = [];
    for (let i = 0; i < 9; i += 1) answers.push(await forward(proxy));
    expect(answers.every((answer) => answer === '200 good')).toBe(true);
    expect([outliers.isEjected(bad1.instance), outliers.isEjected(bad2.instance)].filter(Boolean)).toHaveLength(1);
  });

  it('never sends a POST twice: the one that met a resetting instance fails, and the instance is ejected', async () => {
    const [bad, good] = await upstreams('bad', 'good');
    if (bad === undefined || good === undefined) throw new Error('two upstreams expected');
    bad.reset = true;
    const { proxy } = harness([bad, good]);
    const first = await forward(proxy, 'POST');
    expect(first).toBe('GATEWAY.UPSTREAM_UNREACHABLE');
    expect(good.hits).toBe(0);
    expect(await forward(proxy, 'POST')).toBe('200 good');
    expect(await forward(proxy, 'POST')).toBe('200 good');
    expect(bad.hits).toBe(1);
  });

  it('logs every failed attempt with the instance and how it failed', async () => {
    const [bad, good] = await upstreams('bad', 'good');
    if (bad === undefined || good === undefined) throw new Error('two upstreams expected');
    bad.reset = true;
    const { proxy, logLines } = harness([bad, good]);
    expect(await forward(proxy)).toBe('200 good');
    expect(logLines.find((line) => line['msg'] === 'upstream attempt failed')).toMatchObject({
      upstream: 'bad',
      upstream_address: `127.0.0.1:${bad.port}`,
      failure: 'connection_reset',
      attempt: 1,
      duration_ms: expect.any(Number),
    });
    expect(logLines.find((line) => line['msg'] === 'instance ejected')).toMatchObject({ instance_id: 'bad', failure: 'connection_reset' });
  });

  it('ejects by default, without an outlier detector given', async () => {
    const [bad, good] = await upstreams('bad', 'good');
    if (bad === undefined || good === undefined) throw new Error('two upstreams expected');
    bad.reset = true;
    const { proxy } = harness([bad, good], { outliers: false });
    for (let i = 0; i < 6; i += 1) expect(await forward(proxy)).toBe('200 good');
    expect(bad.hits).toBe(1);
  });
});
