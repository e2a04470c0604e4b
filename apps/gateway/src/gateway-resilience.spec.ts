import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { breakerCalls, breakerCallTotal, breakerState, call, cleanUp, deadPort, eventually, instance, onCleanUp, serve, startEchoUpstream, startGateway, type Answer } from './testing/gateway-harness.js';

afterEach(cleanUp, 5_000);

function expectProblem(answer: Answer, status: number, code: string): void {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(answer.json()).toMatchObject({ status, code });
}

/** The value of one breaker's state gauge (0 closed, 1 half-open, 2 open) on the gateway's /metrics. */
/** An upstream that can be stopped (connections refused) and started again on the same port. */
async function stoppableUpstream() {
  const seen: string[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  };
  let server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const stop = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  onCleanUp(() => (server.listening ? stop() : undefined));
  return {
    port,
    seen,
    stop,
    start: async () => {
      server = createServer(handler);
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
  };
}

describe('service circuit breaker', () => {
  it('opens when a stopped upstream keeps failing, answers 503 fast with Retry-After, and closes after a successful half-open trial', async () => {
    const upstream = await stoppableUpstream();
    // The reset timeout leaves the steps below time to run while the breaker is open, even on a busy machine.
    const gateway = await startGateway({ 'order-service': [instance('order-service', upstream.port)] }, { BREAKER_RESET_TIMEOUT_MS: '2000' });
    expect((await call(`${gateway}/api/products`)).status).toBe(200);

    await upstream.stop();
    // One success and two failures in the window: more than half of 3 calls failed, so it opens.
    for (let i = 0; i < 2; i++) expectProblem(await call(`${gateway}/api/products`), 502, 'GATEWAY.UPSTREAM_UNREACHABLE');
    expect(await breakerState(gateway, 'order-service')).toBe(2);

    for (let i = 0; i < 5; i++) {
      const answer = await call(`${gateway}/api/products`);
      expectProblem(answer, 503, 'GATEWAY.CIRCUIT_OPEN');
      expect(answer.headers['retry-after']).toBe('2');
    }
    // Fast: the open breaker answered itself five times, and the instance saw no attempt past the first three (its breaker counts every attempt).
    expect((await breakerCalls(gateway, 'order-service'))['rejected']).toBe(5);
    expect(await breakerCallTotal(gateway, `order-service@127.0.0.1:${upstream.port}`)).toBe(3);

    await upstream.start();
    const seenBefore = upstream.seen.length;
    // Until the reset timeout passes, the breaker keeps refusing without touching the upstream.
    let first: Answer | undefined;
    await eventually(async () => {
      first = await call(`${gateway}/api/products`);
      if (first.status !== 200) expectProblem(first, 503, 'GATEWAY.CIRCUIT_OPEN');
      return first.status === 200;
    }, 5_000);
    // The first success was the one half-open trial: the upstream saw that request alone.
    expect(upstream.seen.length - seenBefore).toBe(1);
    expect(await breakerState(gateway, 'order-service')).toBe(0);
    expect(await breakerState(gateway, `order-service@127.0.0.1:${upstream.port}`)).toBe(0);
    for (let i = 0; i < 3; i++) expect((await call(`${gateway}/api/products`)).status).toBe(200);
  });

  it('stays closed while retries on other instances hide a dead one', async () => {
    const alive = await startEchoUpstream('alive');
    const dead = await deadPort();
    const gateway = await startGateway({ 'order-service': [instance('order-service', dead, 'dead'), instance('order-service', alive.port, 'alive')] });
    for (let i = 0; i < 10; i++) expect((await call(`${gateway}/api/products`)).status).toBe(200);
    expect(await breakerState(gateway, 'order-service')).toBe(0);
  });

  it('counts 5xx answers against the service and passes them through until it opens', async () => {
    const { port } = await serve((_req, res) => res.writeHead(500, { 'content-type': 'application/problem+json' }).end('{"code":"BOOM"}'));
    const gateway = await startGateway({ 'order-service': [instance('order-service', port)] });
    for (let i = 0; i < 3; i++) expect((await call(`${gateway}/api/products`)).status).toBe(500);
    expectProblem(await call(`${gateway}/api/products`), 503, 'GATEWAY.CIRCUIT_OPEN');
  });

  it('does not count 4xx answers against the service', async () => {
    const { port } = await serve((_req, res) => res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{"code":"NOPE"}'));
    const gateway = await startGateway({ 'order-service': [instance('order-service', port)] });
    for (let i = 0; i < 6; i++) expect((await call(`${gateway}/api/products`)).status).toBe(404);
    expect(await breakerState(gateway, 'order-service')).toBe(0);
  });
});

describe('availability with a dead instance', () => {
  it('gives GET clients no errors when one of three instances is dead', async () => {
    const a = await startEchoUpstream('a');
    const b = await startEchoUpstream('b');
    const gateway = await startGateway({
      'order-service': [instance('order-service', a.port, 'a'), instance('order-service', await deadPort(), 'dead'), instance('order-service', b.port, 'b')],
    });
    const statuses: number[] = [];
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(Array.from({ length: 6 }, () => call(`${gateway}/api/products`)));
      statuses.push(...answers.map((answer) => answer.status));
    }
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(a.seen.length + b.seen.length).toBe(60);
  });
});

describe('non-idempotent requests', () => {
  it('never sends a POST twice, even when the instance it went to timed out', async () => {
    const received: string[] = [];
    const { port: slowPort } = await serve((req) => {
      req.resume();
      received.push(`slow ${req.method}`);
      // never answers
    });
    const fast = await startEchoUpstream('fast');
    const gateway = await startGateway(
      { 'order-service': [instance('order-service', slowPort, 'slow'), instance('order-service', fast.port, 'fast')] },
      { UPSTREAM_TIMEOUT_MS: '300', BREAKER_VOLUME_THRESHOLD: '100' },
    );
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await call(`${gateway}/api/orders`, { method: 'POST', body: `{"n":${i}}`, headers: { 'content-type': 'application/json' } })).status);
    }
    expect(statuses.sort()).toEqual([200, 200, 504, 504]);
    // Four POSTs, four deliveries: the two that timed out were not repeated on the fast instance.
    expect(received.length + fast.seen.length).toBe(4);
    expect(fast.seen.map((echo) => echo.body).sort()).toHaveLength(2);
  });
});

describe('bulkhead', () => {
  it('answers 503 GATEWAY.BULKHEAD_FULL at once beyond the requests in flight a service may have', async () => {
    const held: ServerResponse[] = [];
    const { port } = await serve((_req, res) => held.push(res));
    const gateway = await startGateway({ 'order-service': [instance('order-service', port)] }, { BULKHEAD_MAX_CONCURRENT: '2' });
    const inFlight = [call(`${gateway}/api/products`), call(`${gateway}/api/products`)];
    await eventually(async () => held.length === 2);

    // At once: refused without waiting for a slot, and without reaching the upstream.
    const refused = await call(`${gateway}/api/products`);
    expectProblem(refused, 503, 'GATEWAY.BULKHEAD_FULL');
    expect(held).toHaveLength(2);
    expect((await call(`${gateway}/metrics`)).text).toMatch(/bulkhead_rejections_total\{bulkhead="order-service",service="gateway"\} 1/);

    for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    expect((await Promise.all(inFlight)).map((answer) => answer.status)).toEqual([200, 200]);
    // Slots come back once the answers were streamed.
    const again = call(`${gateway}/api/products`);
    await eventually(async () => held.length === 1);
    held[0]?.writeHead(200).end('{}');
    expect((await again).status).toBe(200);
  });
});

describe('retry budget', () => {
  it('stops retrying on another instance once the budget is spent, and counts retries', async () => {
    const alive = await startEchoUpstream('alive');
    // Three dead instances of four: passive ejection takes out at most half, so one dead instance stays in rotation.
    const dead = await Promise.all([deadPort(), deadPort(), deadPort()]);
    const gateway = await startGateway(
      { 'order-service': [...dead.map((port, i) => instance('order-service', port, `dead-${i}`)), instance('order-service', alive.port, 'alive')] },
      // One retry per 10 s window and no share of traffic; breakers never open.
      { RETRY_BUDGET_RATIO: '0', RETRY_BUDGET_MIN_PER_SECOND: '0.1', BREAKER_VOLUME_THRESHOLD: '1000' },
    );
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await call(`${gateway}/api/products`)).status);
    expect(statuses.filter((status) => status !== 200 && status !== 502)).toEqual([]);
    expect(statuses.filter((status) => status === 502).length).toBeGreaterThanOrEqual(1);
    const metrics = (await call(`${gateway}/metrics`)).text;
    expect(metrics).toMatch(/retries_total\{upstream="order-service",outcome="retried",service="gateway"\} 1\n/);
    expect(metrics).toMatch(/retries_total\{upstream="order-service",outcome="budget_exhausted",service="gateway"\} [1-9]/);
  });
});
