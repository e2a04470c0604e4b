/**
 * `npm run bench:failover`: how fast the system stops sending traffic to a dead instance, and
 * whether clients notice (issue 3; targets: 0 client-visible errors for GETs, under 1 s).
 *
 * Starts the whole system (fresh databases, real Kafka, the apps as processes, three instances of
 * user-service), creates a user, and drives a steady load at fixed concurrency through the
 * gateway, alternating `GET /api/users/{id}` and `GET /api/users?page=1&limit=1`. Then:
 *
 * 1. `kill -9` of one user-service instance under load. The load goes on until the registry has
 *    stopped listing the dead instance (at least 8 s), so traffic after the gateway's ejection,
 *    and around the registry's own update, would show.
 * 2. The killed instance is started again; then `kill -9` of the registry under load, restarted
 *    at once; the load goes on past the restarted registry's warm-up.
 *
 * How "the dead instance received no more traffic" is measured, from the gateway's point of
 * view: the gateway logs every failed attempt to an upstream (`upstream attempt failed`, with
 * `upstream_address`, the time in ms and `duration_ms` from sending to failing, so the log also
 * says when the attempt was sent). Every attempt to a SIGKILLed process fails (refused or reset),
 * so the latest send time among those lines for the dead instance's address is the last request
 * the gateway routed to it; the figure is that time minus the moment the bench sent SIGKILL
 * (same machine, same clock; 0 when nothing was sent to it after the kill). The gateway's
 * `instance ejected` line gives the ejection time the same way.
 *
 * Options: `--concurrency=N` (default 8). Exits 1 when a target is missed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bringUpInfrastructure } from '@msr/infra';
import { buildApps, PublicApi, startTestSystem, type AppProcess, type RunningSystem, type TestSystem } from '@msr/system';
import { Pool } from 'undici';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({ options: { concurrency: { type: 'string', default: '8' } } });
const concurrency = Number(values.concurrency);
const targets = { maxErrors: 0, maxLastTrafficMs: 1_000 };


async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface LoadError {
  at: number;
  what: string;
}

/** A steady GET load at fixed concurrency through the gateway, until stopped. */
class Load {
  sent = 0;
  readonly errors: LoadError[] = [];
  readonly latenciesMs: number[] = [];
  private running = true;
  private readonly workers: Promise<void>[];

  constructor(
    private readonly pool: Pool,
    private readonly paths: readonly string[],
  ) {
    this.workers = Array.from({ length: concurrency }, (_, worker) => this.work(worker));
  }

  private async work(worker: number): Promise<void> {
    for (let i = worker; this.running; i += 1) {
      const requestPath = this.paths[i % this.paths.length] as string;
      const started = performance.now();
      this.sent += 1;
      try {
        const response = await this.pool.request({ method: 'GET', path: requestPath, headersTimeout: 10_000, bodyTimeout: 10_000 });
        const body = await response.body.text();
        if (response.statusCode !== 200) this.errors.push({ at: Date.now(), what: `${response.statusCode} ${requestPath} ${body.slice(0, 160)}` });
      } catch (error) {
        this.errors.push({ at: Date.now(), what: `${requestPath} ${error instanceof Error ? error.message : String(error)}` });
      }
      this.latenciesMs.push(performance.now() - started);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  percentile(p: number): number {
    const sorted = [...this.latenciesMs].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  }
}

interface LogLine {
  time: string;
  msg: string;
  [field: string]: unknown;
}

function logLines(app: AppProcess): LogLine[] {
  return readFileSync(app.logFile, 'utf8')
    .split('\n')
    .flatMap((line) => {
      try {
        const parsed = JSON.parse(line) as LogLine;
        return typeof parsed.msg === 'string' && typeof parsed.time === 'string' ? [parsed] : [];
      } catch {
        return [];
      }
    });
}

/** The address an instance registered under, from its own log. */
function registeredAddress(app: AppProcess): string {
  const line = logLines(app).findLast((entry) => entry.msg === 'registered with the registry');
  if (line === undefined) throw new Error(`${app.name} #${app.index} never logged its registration`);
  return `${String(line['address'])}:${String(line['port'])}`;
}

async function healthyAddresses(system: RunningSystem, service: string): Promise<string[] | undefined> {
  const response = await fetch(`${system.registryUrl}/v1/services/${service}/discover?healthy=true`, { signal: AbortSignal.timeout(1_000) });
  if (!response.ok) return undefined;
  return ((await response.json()) as Array<{ address: string; port: number }>).map((i) => `${i.address}:${i.port}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (value: number | undefined) => (value === undefined ? '-' : `${Math.round(value)} ms`);

interface Verdict {
  label: string;
  value: string;
  target: string;
  met: boolean;
}

async function crashOneInstance(system: RunningSystem, pool: Pool, paths: string[]): Promise<Verdict[]> {
  const victim = system.instancesOf('user-service')[1];
  if (victim === undefined) throw new Error('a second user-service instance was expected');
  const address = registeredAddress(victim);
  const gateway = system.apps.get('gateway') as AppProcess;
  console.log(`\n== Phase 1: kill -9 of user-service #1 (${address}) under load, ${concurrency} concurrent GETs`);
  const load = new Load(pool, paths);
  await sleep(2_000);
  const sentBeforeKill = load.sent;
  const killedAt = Date.now();
  await system.kill('user-service', 1, 'SIGKILL');
  console.log(`killed at ${new Date(killedAt).toISOString()}; keeping the load on until the registry stops listing it`);
  const unlistedAt = await until(
    async () => ((await healthyAddresses(system, 'user-service'))?.includes(address) === false ? Date.now() : undefined),
    30_000,
    'the registry to stop listing the dead instance',
  );
  await sleep(Math.max(0, killedAt + 8_000 - Date.now()));
  await load.stop();

  const lines = logLines(gateway).filter((line) => Date.parse(line.time) >= killedAt - 5);
  const attempts = lines.filter((line) => line.msg === 'upstream attempt failed' && line['upstream_address'] === address);
  const ejected = lines.find((line) => line.msg === 'instance ejected' && line['upstream_address'] === address);
  const sentAt = (line: LogLine) => Date.parse(line.time) - Number(line['duration_ms'] ?? 0);
  const lastTrafficMs = Math.max(0, ...attempts.map((line) => sentAt(line) - killedAt));
  const lastFailureMs = attempts.length === 0 ? undefined : Math.max(...attempts.map((line) => Date.parse(line.time))) - killedAt;
  console.table({
    'requests sent': { value: load.sent },
    'requests sent before the kill': { value: sentBeforeKill },
    'client-visible errors': { value: load.errors.length },
    'attempts that reached the dead instance (retried elsewhere)': { value: attempts.length },
    'gateway ejected it after': { value: ms(ejected === undefined ? undefined : Date.parse(ejected.time) - killedAt) },
    'last request routed to it after': { value: ms(lastTrafficMs) },
    'last of those attempts failed after': { value: ms(lastFailureMs) },
    'registry stopped listing it after': { value: ms(unlistedAt - killedAt) },
    'latency p50 / p99 / max': { value: `${load.percentile(50).toFixed(1)} / ${load.percentile(99).toFixed(1)} / ${Math.max(...load.latenciesMs).toFixed(1)} ms` },
  });
  for (const error of load.errors.slice(0, 5)) console.log(`  error at +${error.at - killedAt} ms: ${error.what}`);
  return [
    { label: 'phase 1 client-visible errors', value: String(load.errors.length), target: `${targets.maxErrors}`, met: load.errors.length <= targets.maxErrors },
    {
      label: 'phase 1 kill → last request to the dead instance',
      value: ms(lastTrafficMs),
      target: `< ${targets.maxLastTrafficMs} ms`,
      met: lastTrafficMs < targets.maxLastTrafficMs,
    },
  ];
}

async function crashRegistry(system: RunningSystem, pool: Pool, paths: string[]): Promise<Verdict[]> {
  const gateway = system.apps.get('gateway') as AppProcess;
  const instances = system.instancesOf('user-service').length;
  console.log(`\n== Phase 2: kill -9 of the registry under load, restarted at once`);
  const load = new Load(pool, paths);
  await sleep(2_000);
  const killedAt = Date.now();
  await system.kill('registry', 0, 'SIGKILL');
  await system.restart('registry');
  const upAt = Date.now();
  const refilledAt = await until(
    async () => (((await healthyAddresses(system, 'user-service'))?.length ?? 0) >= instances ? Date.now() : undefined),
    30_000,
    'every user-service instance to register again',
  );
  // Past the restarted registry's warm-up (10 s), when the gateway's cache switches from merging to replacing.
  await sleep(Math.max(0, upAt + 12_000 - Date.now()));
  await load.stop();
  const reconnected = logLines(gateway).find((line) => line.msg === 'watch stream to the registry open again' && Date.parse(line.time) > killedAt);
  console.table({
    'requests sent': { value: load.sent },
    'client-visible errors': { value: load.errors.length },
    'registry down (kill → answering /health)': { value: ms(upAt - killedAt) },
    [`all ${instances} user-service instances registered again after the kill`]: { value: ms(refilledAt - killedAt) },
    "gateway's watch stream open again after the kill": { value: ms(reconnected === undefined ? undefined : Date.parse(reconnected.time) - killedAt) },
    'latency p50 / p99 / max': { value: `${load.percentile(50).toFixed(1)} / ${load.percentile(99).toFixed(1)} / ${Math.max(...load.latenciesMs).toFixed(1)} ms` },
  });
  for (const error of load.errors.slice(0, 5)) console.log(`  error at +${error.at - killedAt} ms: ${error.what}`);
  return [{ label: 'phase 2 client-visible errors', value: String(load.errors.length), target: `${targets.maxErrors}`, met: load.errors.length <= targets.maxErrors }];
}

async function main(): Promise<number> {
  const started = Date.now();
  console.log('== Infrastructure');
  const infra = await bringUpInfrastructure({ log: (line) => console.log(line) });
  console.log('\n== Building the apps');
  buildApps();
  let running: TestSystem | undefined;
  let pool: Pool | undefined;
  try {
    console.log('\n== Starting the system with three user-service instances');
    running = await startTestSystem({
      prefix: 'bench_failover',
      adminUrl: infra.pgAdminUrl,
      kafkaBrokers: infra.kafkaBrokers.join(','),
      logDir: path.join(root, 'tmp', 'bench-logs', `failover-${new Date().toISOString().replace(/[:.]/g, '-')}`),
      instances: { 'user-service': 3 },
      // A load generator is one very busy client: the rate limit must not be what is measured.
      appEnv: { gateway: { RATE_LIMIT_PER_MINUTE: '100000000' } },
    });
    const { system } = running;
    console.log(`system up after ${Date.now() - started} ms; gateway ${system.gatewayUrl}, registry ${system.registryUrl}`);
    const user = await new PublicApi(system.gatewayUrl).createUser(`failover.${Date.now().toString(36)}@example.com`, 'Failover Bench');
    const paths = [`/api/users/${user.id}`, '/api/users?page=1&limit=1'];
    pool = new Pool(system.gatewayUrl, { connections: concurrency });

    const verdicts = await crashOneInstance(system, pool, paths);
    console.log('\n== Starting user-service #1 again');
    const restartStarted = Date.now();
    await system.restart('user-service', 1);
    console.log(`user-service #1 registered and healthy again after ${Date.now() - restartStarted} ms`);
    verdicts.push(...(await crashRegistry(system, pool, paths)));

    console.log(`\n== Failover results (bench wall time ${Math.round((Date.now() - started) / 1_000)} s)`);
    for (const verdict of verdicts) console.log(`  ${verdict.met ? 'ok    ' : 'MISSED'} ${verdict.label}: ${verdict.value} (target ${verdict.target})`);
    return verdicts.every((verdict) => verdict.met) ? 0 : 1;
  } finally {
    await pool?.close();
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
