/**
 * `npm run bench:gateway`: what the API gateway costs. Starts the whole system (fresh databases,
 * real Kafka, the five apps as processes) and drives `GET /api/products` through the gateway and
 * `GET /products` directly against order-service (its address from the registry) with autocannon,
 * at the same concurrency, in rounds that rotate which goes first so all see the same machine. Prints requests per
 * second, p50 and p99 latency of both, the throughput ratio and the p99 the gateway adds, against
 * the targets of issue 4 (ratio ≥ 0.7, at most 5 ms added at p99), each compared within a round
 * (the targets run back to back) and the median over rounds taken.
 *
 * A third target runs in the same rounds for reference: a bare reverse proxy (`bare-proxy.ts`,
 * undici like the gateway, none of its features) in front of the same order-service instance.
 * It separates what one more hop costs on this machine from what the gateway's features cost.
 *
 * Each target is first warmed up under the same load for `--warmup` seconds: a Node proxy reaches
 * its steady cost per request only after tens of seconds of traffic (its CPU per request kept
 * falling round after round with a 3 s warm-up), and the targets are about steady throughput.
 *
 * Options: `--connections=N` (default 10), `--duration=S` seconds per round (default 10),
 * `--warmup=S` seconds of load per target before measuring (default 20), `--rounds=N` (default 3,
 * so each target leads a round once), `--strict` (exit 1 when a target is missed).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon, { type Result } from 'autocannon';
import { bringUpInfrastructure } from '@msr/infra';
import { buildApps, startTestSystem, type RunningSystem, type TestSystem } from '@msr/system';
import { CpuMeter, processCpuUs } from './cpu.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '10' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
    strict: { type: 'boolean', default: false },
  },
});
const connections = Number(values.connections);
const durationSeconds = Number(values.duration);
const warmupSeconds = Number(values.warmup);
const rounds = Number(values.rounds);
const targets = { minThroughputRatio: 0.7, maxAddedP99Ms: 5 };


/** One autocannon run; fails if any request errored or answered other than 2xx. */
async function load(url: string, seconds: number): Promise<Result> {
  const result = await autocannon({ url, connections, duration: seconds });
  if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx answers of ${result.requests.total}`);
  }
  return result;
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  /** CPU time each process spent per request, in µs (Linux /proc), by app. */
  cpuUsPerRequest: Record<string, number>;
}

/** Runs `url` under load and notes what it cost each of `processes`. */
async function measure(url: string, seconds: number, processes: Record<string, number | undefined>): Promise<Figures> {
  const meter = new CpuMeter(Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, () => processCpuUs(pid)])));
  const done = meter.start();
  const result = await load(url, seconds);
  const used = done();
  const cpuUsPerRequest = Object.fromEntries(Object.entries(used).map(([name, us]) => [name, us / result.requests.total]));
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, cpuUsPerRequest };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function summarize(runs: Figures[]): Figures {
  const names = Object.keys(runs[0]?.cpuUsPerRequest ?? {});
  return {
    rps: median(runs.map((run) => run.rps)),
    p50: median(runs.map((run) => run.p50)),
    p99: median(runs.map((run) => run.p99)),
    cpuUsPerRequest: Object.fromEntries(names.map((name) => [name, median(runs.map((run) => run.cpuUsPerRequest[name] ?? 0))])),
  };
}

function cpuColumns(figures: Figures): Record<string, number> {
  return Object.fromEntries(Object.entries(figures.cpuUsPerRequest).map(([name, us]) => [`${name} CPU µs/req`, Math.round(us)]));
}

async function orderServiceUrl(system: RunningSystem): Promise<string> {
  const response = await fetch(`${system.registryUrl}/v1/services/order-service/discover?healthy=true`);
  const [instance] = (await response.json()) as Array<{ address: string; port: number }>;
  if (instance === undefined) throw new Error('order-service is not registered');
  return `http://${instance.address}:${instance.port}`;
}

/** Starts `bare-proxy.ts` in front of `upstream`; resolves with the process and its URL once it listens. */
async function startBareProxy(upstream: string): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(path.join(root, 'tools', 'bench', 'bare-proxy.ts'), [upstream], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the bare proxy exited (${code}) before listening`)));
    child.once('error', reject);
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

const targetNames = ['direct', 'gateway', 'bare proxy'] as const;
type Target = (typeof targetNames)[number];

async function bench(system: RunningSystem): Promise<boolean> {
  const upstream = await orderServiceUrl(system);
  const bare = await startBareProxy(upstream);
  try {
    return await compare(system, upstream, bare);
  } finally {
    bare.child.disconnect();
  }
}

async function compare(system: RunningSystem, upstream: string, bare: { child: ChildProcess; url: string }): Promise<boolean> {
  const urls: Record<Target, string> = { direct: `${upstream}/products`, gateway: `${system.gatewayUrl}/api/products`, 'bare proxy': `${bare.url}/products` };
  const processes = {
    gateway: system.apps.get('gateway')?.child.pid,
    'order-service': system.apps.get('order-service')?.child.pid,
    'bare proxy': bare.child.pid,
  };
  console.log(`\n== Warming up (${warmupSeconds} s each): ${Object.values(urls).join(', ')}`);
  for (const target of targetNames) await load(urls[target], warmupSeconds);

  const runs: Record<Target, Figures[]> = { direct: [], gateway: [], 'bare proxy': [] };
  for (let round = 1; round <= rounds; round++) {
    // Rotate which goes first, so none always runs on a warmer (or more tired) machine.
    const order = targetNames.map((_, index) => targetNames[(index + round - 1) % targetNames.length] as Target);
    for (const which of order) {
      const result = await measure(urls[which], durationSeconds, processes);
      runs[which].push(result);
      const cpu = Object.entries(result.cpuUsPerRequest).map(([name, us]) => `${name} ${us.toFixed(0)} µs`).join(', ');
      console.log(`round ${round} ${which.padEnd(10)} ${result.rps.toFixed(0).padStart(6)} req/s  p50 ${result.p50} ms  p99 ${result.p99} ms  CPU per request: ${cpu}`);
    }
  }

  const g = summarize(runs.gateway);
  const d = summarize(runs.direct);
  const b = summarize(runs['bare proxy']);
  // Each round runs the targets back to back, so the host's slow and fast spells (a shared VM's
  // neighbours) hit a round's targets alike: the verdict is the median of the per-round
  // comparisons, not a ratio of medians that may come from different rounds.
  const perRound = runs.gateway.map((gateway, index) => {
    const direct = runs.direct[index] as Figures;
    return { ratio: gateway.rps / direct.rps, addedP99: gateway.p99 - direct.p99 };
  });
  const ratio = median(perRound.map((round) => round.ratio));
  const addedP99 = median(perRound.map((round) => round.addedP99));
  console.log(`\n== GET /api/products, ${connections} connections, ${rounds} × ${durationSeconds} s each (medians)`);
  console.table({
    'through gateway': { 'req/s': Math.round(g.rps), 'p50 ms': g.p50, 'p99 ms': g.p99, ...cpuColumns(g) },
    'direct to order-service': { 'req/s': Math.round(d.rps), 'p50 ms': d.p50, 'p99 ms': d.p99, ...cpuColumns(d) },
    'through a bare proxy (reference)': { 'req/s': Math.round(b.rps), 'p50 ms': b.p50, 'p99 ms': b.p99, ...cpuColumns(b) },
  });
  console.log(`throughput ratio bare proxy/direct (reference: the cost of the extra hop alone): ${(b.rps / d.rps).toFixed(2)}`);
  console.log(`per round, gateway/direct: ${perRound.map((round) => `${round.ratio.toFixed(2)} (p99 +${round.addedP99} ms)`).join(', ')}; the verdicts below are their medians`);
  const ratioOk = ratio >= targets.minThroughputRatio;
  const p99Ok = addedP99 <= targets.maxAddedP99Ms;
  console.log(`throughput ratio gateway/direct (median per round): ${ratio.toFixed(2)} (target ≥ ${targets.minThroughputRatio}) ${ratioOk ? 'ok' : 'MISSED'}`);
  console.log(`p99 added by the gateway (median per round): ${addedP99} ms (target ≤ ${targets.maxAddedP99Ms} ms) ${p99Ok ? 'ok' : 'MISSED'}`);
  console.log(`p50 added by the gateway: ${g.p50 - d.p50} ms`);
  console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((value) => value.toFixed(1)).join(' ')} (other work competes with the bench when it is high)`);
  return ratioOk && p99Ok;
}

async function main(): Promise<number> {
  console.log('== Infrastructure');
  const infra = await bringUpInfrastructure({ log: (line) => console.log(line) });
  console.log('\n== Building the apps');
  buildApps();
  let running: TestSystem | undefined;
  try {
    console.log('\n== Starting the system');
    running = await startTestSystem({
      prefix: 'bench_gw',
      adminUrl: infra.pgAdminUrl,
      kafkaBrokers: infra.kafkaBrokers.join(','),
      logDir: path.join(root, 'tmp', 'bench-logs', `gateway-${new Date().toISOString().replace(/[:.]/g, '-')}`),
      // A load generator is one very busy client: the rate limit must not be what is measured.
      appEnv: { gateway: { RATE_LIMIT_PER_MINUTE: '100000000' } },
    });
    const { system } = running;
    const met = await bench(system);
    return met || !values.strict ? 0 : 1;
  } finally {
    await running?.dispose();
    await infra.release();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('bench failed:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
