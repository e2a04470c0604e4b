import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { RegistryClient, ServiceDiscovery, type ServiceInstance } from '@msr/discovery';
import { closeServer, createLogger, Health, listen, loadConfig, Metrics } from '@msr/service-defaults';
import { SignJWT } from 'jose';
import { request } from 'undici';
import { configSchema, developmentJwtSecret } from '../config.js';
import { UndiciUpstreamClient } from '../infrastructure/undici-upstream.client.js';
import { createGateway } from '../wiring.js';

// Test support for the gateway's specs: everything is real HTTP over loopback (a stand-in
// registry answering seed 000's discover endpoint, upstream servers, the gateway itself).

const silentLogger = createLogger({ service: 'gateway-test', level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];

/** Closes everything started since the last call; call it in `afterEach`. */
export async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

/** Registers something for {@link cleanUp} to close. */
export function onCleanUp(cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup);
}

/** An HTTP server on a free loopback port, closed by {@link cleanUp}. */
export async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/** A registry entry for a local instance. */
export function instance(name: string, port: number, id = `${name}-${port}`): ServiceInstance {
  return { id, name, address: '127.0.0.1', port, tags: [], meta: {}, health: 'passing', last_seen: new Date().toISOString() };
}

/** Which instances the stand-in registry lists, by service; tests may change it while running. */
export type Catalog = Record<string, ServiceInstance[]>;

/** A registry stand-in: `GET /v1/services/{name}/discover?healthy=true` answers from `catalog`. */
export async function startRegistry(catalog: Catalog): Promise<string> {
  const { port } = await serve((req, res) => {
    const match = /^\/v1\/services\/([^/]+)\/discover/.exec(req.url ?? '');
    if (req.method !== 'GET' || match === null) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(catalog[decodeURIComponent(match[1] ?? '')] ?? []));
  });
  return `http://127.0.0.1:${port}`;
}

/** What an echo upstream received. */
export interface Echo {
  upstream: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** An upstream that answers every request with what it received, tagged with its own name. */
export async function startEchoUpstream(name: string, seen: Echo[] = []): Promise<{ port: number; seen: Echo[] }> {
  const { port } = await serve((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const echo: Echo = { upstream: name, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
      seen.push(echo);
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name }).end(JSON.stringify(echo));
    });
  });
  return { port, seen };
}

/** A port nothing listens on: bound once, then released. */
export async function deadPort(): Promise<number> {
  const server = createTcpServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Test defaults: 2 s upstream timeout; breakers open after 3 calls in 10 s of which more than
 * half failed and stay open a minute; quick retries; a rate limit no test reaches by accident.
 */
const testEnv: Record<string, string> = {
  UPSTREAM_TIMEOUT_MS: '2000',
  BREAKER_VOLUME_THRESHOLD: '3',
  BREAKER_ERROR_THRESHOLD_PERCENTAGE: '50',
  BREAKER_RESET_TIMEOUT_MS: '60000',
  RETRY_BASE_DELAY_MS: '5',
  RETRY_MAX_DELAY_MS: '10',
  RATE_LIMIT_PER_MINUTE: '100000',
  DISCOVERY_REFRESH_MS: '60000',
  LOG_LEVEL: 'silent',
};

/** A logger at info level whose JSON lines land in `lines`. */
function capturingLogger(lines: Record<string, unknown>[]) {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return createLogger({ service: 'gateway', level: 'info', destination });
}

/**
 * A running gateway wired exactly as `main.ts` wires it, from the configuration `env` gives.
 * With `logLines`, its log lines are collected there (at info level).
 */
export async function startGateway(catalog: Catalog, env: Record<string, string> = {}, logLines?: Record<string, unknown>[]): Promise<string> {
  const config = loadConfig(configSchema, { ...testEnv, ...env, REGISTRY_URL: await startRegistry(catalog) });
  const logger = logLines === undefined ? silentLogger : capturingLogger(logLines);
  const registry = new RegistryClient({ registryUrl: config.REGISTRY_URL, logger: silentLogger });
  const discovery = new ServiceDiscovery({ registry, logger: silentLogger, refreshIntervalMs: config.DISCOVERY_REFRESH_MS });
  const upstream = new UndiciUpstreamClient({ bodyTimeoutMs: config.UPSTREAM_TIMEOUT_MS });
  const app = createGateway(config, { logger, health: new Health(), metrics: new Metrics('gateway'), discovery, upstream });
  const { server, port } = await listen(app, 0, '127.0.0.1');
  cleanups.push(async () => {
    discovery.close();
    server.closeAllConnections();
    await closeServer(server, 0);
    await upstream.close();
  });
  return `http://127.0.0.1:${port}`;
}

/** Options of {@link devToken}. */
export interface TokenOptions {
  scopes?: readonly string[];
  subject?: string;
  expiresInSeconds?: number;
  secret?: string;
}

/** A bearer token as `npm run token` mints them (the development secret, every scope by default). */
export async function devToken(options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1_000);
  return new SignJWT({ scope: (options.scopes ?? ['users:write', 'orders:read', 'orders:write', 'payments:read']).join(' ') })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(options.subject ?? 'tester')
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresInSeconds ?? 600))
    .sign(new TextEncoder().encode(options.secret ?? developmentJwtSecret));
}

/** An answer, its body read. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
}

/**
 * Sends one request; with a development token (every scope) unless `token` is given (`null`
 * for none).
 */
export async function call(url: string, init: Parameters<typeof request>[1] = {}, token?: string | null): Promise<Answer> {
  const bearer = token === undefined ? await devToken() : token;
  const headers = { ...(init?.headers as Record<string, string> | undefined), ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }) };
  const response = await request(url, { ...init, headers });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** Polls `probe` until it returns true; fails after `timeoutMs`. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A breaker's state from the gateway's `/metrics`: 0 closed, 1 half-open, 2 open; undefined before its first use. */
export async function breakerState(gateway: string, breaker: string): Promise<number | undefined> {
  const metrics = (await call(`${gateway}/metrics`)).text;
  const line = metrics.split('\n').find((l) => l.startsWith(`circuit_breaker_state{breaker="${breaker}"`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

/**
 * Calls through a breaker so far, by outcome (`success`, `failure`, `timeout`, `rejected`), from
 * the gateway's `/metrics`. Every attempt on an instance goes through its breaker, so an
 * unchanged total says no attempt was made.
 */
export async function breakerCalls(gateway: string, breaker: string): Promise<Record<string, number>> {
  const metrics = (await call(`${gateway}/metrics`)).text;
  const calls: Record<string, number> = {};
  for (const line of metrics.split('\n')) {
    const match = /^circuit_breaker_calls_total\{breaker="([^"]+)",outcome="([^"]+)"[^}]*\} (\d+)$/.exec(line);
    if (match?.[1] === breaker) calls[match[2] as string] = Number(match[3]);
  }
  return calls;
}

/** The sum of a breaker's calls over every outcome. */
export async function breakerCallTotal(gateway: string, breaker: string): Promise<number> {
  return Object.values(await breakerCalls(gateway, breaker)).reduce((sum, count) => sum + count, 0);
}
