/**
 * `npm run bench:saga`: how fast the PlaceOrder saga decides orders. Starts the whole system
 * (fresh databases, real Kafka, the five apps as processes), then places orders through the
 * gateway at fixed rates (open loop: each order at its scheduled time, whether or not earlier ones
 * are done) for a fixed time per rate, and prints per rate: orders per second completed, and p50 /
 * p99 of the time from sending `POST /api/orders` to the order's final status, against the targets
 * of issue 5 (at 50/s: p50 ≤ 50 ms, p99 ≤ 250 ms; at 200/s: at least 200 orders/s sustained with
 * nothing lost).
 *
 * How "final" is measured: the bench consumes `order.events` (a consumer group of its own,
 * starting at the topic's end) and takes an order's final time from its `order.approved` /
 * `order.rejected` event's `approved_at` / `rejected_at`, the time order-service decided it inside
 * the deciding transaction (the same machine's clock as the bench). Polling GET /api/orders/{id}
 * would add its own load and interval; the events' arrival lag (outbox relay, Kafka, and the
 * watcher's own fetch interval of up to 250 ms) is printed beside it.
 *
 * Setup: the system runs on a Kafka broker of its own (spare ports, state under `tmp/`): on the
 * shared broker, any other system running at the same time (an e2e run, the demo) joins the same
 * consumer groups and takes replies away. Every user's account starts with a large balance (`STARTING_BALANCE_CENTS` of
 * payment-service) and orders buy, in turn, one of 25 bench SKUs with stock for millions of orders,
 * inserted straight into order-service's fresh database (a bench may; the demo catalog stays as it
 * is), so every order is approved and nothing but the saga is measured (one SKU for all orders
 * would measure the queue on its stock row instead). The gateway's rate limit is raised and
 * the apps log at `warn` so that neither is what is measured.
 *
 * Where the cycles go: after each rate it prints the CPU time per decided order of each app, the
 * broker, PostgreSQL (all backends) and the bench itself, and of the whole machine (`cpu.ts`), and
 * the database transactions per decided order of each service's database (`pg_stat_database`),
 * a figure the host's noise does not move. PostgreSQL publishes a backend's counts at most once a
 * second while it is busy and up to 10 s after it goes idle, so that reading waits 11 s after
 * each rate.
 *
 * Options: `--rates=50,200` orders per second, `--duration=20` seconds per rate, `--users=20`,
 * `--warmup=60` seconds at 40/s first (the bench's broker is a fresh JVM: until its JIT has
 * compiled the hot paths, which takes a minute or two under load, it needs two to three times the
 * CPU per request, and every figure suffers), `--skip-build` (run the apps as last built),
 * `--strict` (exit 1 when a target is missed).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import pg from 'pg';
import { Pool as HttpPool } from 'undici';
import { bringUpInfrastructure, freePort, startKafka, stopKafka, type KafkaOptions } from '@msr/infra';
import { appNames, buildApps, mintDevToken, PublicApi, startTestSystem, type RunningSystem, type TestSystem } from '@msr/system';
import { commandCpuUs, CpuMeter, machineCpuUs, processCpuUs } from './cpu.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '50,200' },
    duration: { type: 'string', default: '20' },
    users: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '60' },
    'skip-build': { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
  },
});
const rates = values.rates.split(',').map(Number);
const durationSeconds = Number(values.duration);
const userCount = Number(values.users);
const warmupSeconds = Number(values.warmup);
/** Orders per second while warming up: enough for the JITs to compile the hot paths in a minute. */
const warmupRate = 40;
const targets = { atRate: 50, maxP50Ms: 50, maxP99Ms: 250, sustainedRate: 200 };
/**
 * The bench catalog: many SKUs with stock for millions of orders, ordered in turn. One SKU for
 * every order would measure only the queue on its stock row (each reservation locks it until
 * its transaction commits), not the saga.
 */
const benchSkus = Array.from({ length: 25 }, (_, index) => ({ sku: `SKU-BENCH-${String(index + 1).padStart(2, '0')}`, name: `Bench widget ${index + 1}`, price_cents: 100, stock: 10_000_000 }));
const orderEventsTopic = 'order.events';


function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** When each order reached its final status (from order.events), and when the event arrived. */
interface Decision {
  status: 'APPROVED' | 'REJECTED';
  decidedAt: number;
  receivedAt: number;
}

/**
 * Consumes `order.events` from its current end with a group of its own and records every order's
 * final status. Resolves once the group has joined and every partition is positioned.
 */
async function watchDecisions(brokers: string[], decisions: Map<string, Decision>): Promise<Consumer> {
  const kafka = new Kafka({ clientId: 'bench-saga', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(orderEventsTopic);
  await admin.disconnect();
  // Decision times come from the events themselves, so the watcher may lag: it fetches at most
  // every 250 ms (a fetch waits for a megabyte or the time limit) instead of waking the broker for
  // every event.
  const consumer = kafka.consumer({ groupId: `bench-saga-${randomUUID()}`, maxWaitTimeInMs: 250, minBytes: 1024 * 1024 });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topic: orderEventsTopic, fromBeginning: false });
  // It only watches: nothing to commit, and no OffsetCommit per record to load the broker with.
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      const type = message.headers?.['event_type']?.toString();
      if (type !== 'order.approved' && type !== 'order.rejected') return;
      const payload = JSON.parse(message.value?.toString() ?? '{}') as { order_id: string; approved_at?: string; rejected_at?: string };
      const decidedAt = Date.parse(payload.approved_at ?? payload.rejected_at ?? '');
      decisions.set(payload.order_id, { status: type === 'order.approved' ? 'APPROVED' : 'REJECTED', decidedAt, receivedAt: Date.now() });
    },
  });
  await joined;
  // Start exactly where the topic ended before the bench: nothing of this run is missed.
  for (const { partition, offset } of ends) consumer.seek({ topic: orderEventsTopic, partition, offset });
  return consumer;
}

/**
 * Places orders through the gateway on a pool of keep-alive connections. The load generator shares
 * the two cores with the system it measures, so it is kept lean: `fetch` costs several times the
 * CPU per request of undici's `request`.
 */
class OrderPlacer {
  private readonly connections: HttpPool;

  constructor(
    gatewayUrl: string,
    private readonly token: string,
  ) {
    this.connections = new HttpPool(gatewayUrl, { connections: 64 });
  }

  async place(order: { user_id: string; items: Array<{ sku: string; quantity: number }> }): Promise<{ status: number; body: { order_id?: string; code?: string } }> {
    const answer = await this.connections.request({
      method: 'POST',
      path: '/api/orders',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify(order),
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    const text = await answer.body.text();
    return { status: answer.statusCode, body: text === '' ? {} : (JSON.parse(text) as { order_id?: string; code?: string }) };
  }

  close(): Promise<void> {
    return this.connections.close();
  }
}

interface Placed {
  orderId: string;
  sentAt: number;
  acceptedAt: number;
}

interface PhaseResult {
  rate: number;
  offered: number;
  accepted: number;
  /** Not accepted: the gateway or order-service answered other than 202 (or not at all). */
  refused: number;
  approved: number;
  rejected: number;
  /** Accepted (202) but never decided within a minute of the last order. */
  lost: number;
  completedPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  postP50: number;
  postP99: number;
  lagP50: number;
  /** CPU time per decided order, in ms, by process (and `machine`: all cores, everything); empty when nothing was decided. */
  cpuMsPerOrder: Record<string, number>;
  /** The share of the machine's cores busy during the phase, 0 to 1. */
  machineBusy: number;
  /** Transactions (committed or rolled back) per decided order, by service database; empty when nothing was decided. */
  transactionsPerOrder: Record<string, number>;
}

/** PostgreSQL's count of each service database's transactions so far (`pg_stat_database`). */
type TransactionReading = () => Promise<Record<string, number>>;

/** How long PostgreSQL may hold an idle backend's counts before publishing them, in ms (`PGSTAT_IDLE_INTERVAL`), and a margin. */
const statsPublishedWithinMs = 11_000;

function transactionReading(adminUrl: string, databaseUrls: Readonly<Record<string, string>>): { read: TransactionReading; close: () => Promise<void> } {
  const admin = new pg.Pool({ connectionString: adminUrl, max: 1 });
  const names = Object.fromEntries(Object.entries(databaseUrls).map(([service, url]) => [decodeURIComponent(new URL(url).pathname.slice(1)), service]));
  return {
    async read() {
      const { rows } = await admin.query<{ datname: string; transactions: string }>(
        'SELECT datname, xact_commit + xact_rollback AS transactions FROM pg_stat_database WHERE datname = ANY($1::text[])',
        [Object.keys(names)],
      );
      return Object.fromEntries(rows.map((row) => [names[row.datname]!, Number(row.transactions)]));
    },
    close: () => admin.end(),
  };
}

/** Places `rate` orders per second for `seconds`, each at its scheduled time, and waits for every decision. */
async function phase(
  placer: OrderPlacer,
  userIds: readonly string[],
  decisions: Map<string, Decision>,
  rate: number,
  seconds: number,
  meter: CpuMeter,
  transactions: TransactionReading,
): Promise<PhaseResult> {
  const offered = Math.round(rate * seconds);
  const placed: Placed[] = [];
  let refused = 0;
  const refusals = new Map<string, number>();
  const refuse = (why: string) => {
    refused += 1;
    refusals.set(why, (refusals.get(why) ?? 0) + 1);
  };
  const transactionsBefore = await transactions();
  const startedAt = Date.now();
  const cpuDone = meter.start();
  await Promise.all(
    Array.from({ length: offered }, async (_, index) => {
      await sleep(Math.max(0, startedAt + (index * 1000) / rate - Date.now()));
      const sentAt = Date.now();
      try {
        const items = [{ sku: benchSkus[index % benchSkus.length]!.sku, quantity: 1 }];
        const answer = await placer.place({ user_id: userIds[index % userIds.length]!, items });
        if (answer.status === 202 && answer.body.order_id !== undefined) placed.push({ orderId: answer.body.order_id, sentAt, acceptedAt: Date.now() });
        else refuse(`${answer.status} ${answer.body.code ?? ''}`.trim());
      } catch (error) {
        refuse(error instanceof Error ? error.name : 'error');
      }
    }),
  );
  // Every accepted order must be decided; a bounded wait, after which the rest count as lost.
  const deadline = Date.now() + 60_000;
  while (placed.some((order) => !decisions.has(order.orderId)) && Date.now() < deadline) await sleep(50);
  const cpuUs = cpuDone();
  const elapsedMs = Date.now() - startedAt;
  await sleep(statsPublishedWithinMs);
  const transactionsAfter = await transactions();

  const decided = placed.map((order) => ({ order, decision: decisions.get(order.orderId) })).filter((entry) => entry.decision !== undefined);
  const latencies = decided.map(({ order, decision }) => decision!.decidedAt - order.sentAt).sort((a, b) => a - b);
  const posts = placed.map((order) => order.acceptedAt - order.sentAt).sort((a, b) => a - b);
  const lags = decided.map(({ decision }) => decision!.receivedAt - decision!.decidedAt).sort((a, b) => a - b);
  const lastDecision = Math.max(...decided.map(({ decision }) => decision!.decidedAt));
  if (refusals.size > 0) console.log(`refused: ${[...refusals].map(([why, count]) => `${count} × ${why}`).join(', ')}`);
  return {
    rate,
    offered,
    accepted: placed.length,
    refused,
    approved: decided.filter(({ decision }) => decision!.status === 'APPROVED').length,
    rejected: decided.filter(({ decision }) => decision!.status === 'REJECTED').length,
    lost: placed.length - decided.length,
    completedPerSecond: decided.length / ((lastDecision - startedAt) / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? Number.NaN,
    postP50: percentile(posts, 50),
    postP99: percentile(posts, 99),
    lagP50: percentile(lags, 50),
    cpuMsPerOrder: decided.length === 0 ? {} : Object.fromEntries(Object.entries(cpuUs).map(([name, us]) => [name, us / 1000 / decided.length])),
    machineBusy: (cpuUs['machine'] ?? 0) / 1000 / (elapsedMs * availableParallelism()),
    transactionsPerOrder:
      decided.length === 0 ? {} : Object.fromEntries(Object.entries(transactionsAfter).map(([service, count]) => [service, (count - (transactionsBefore[service] ?? 0)) / decided.length])),
  };
}

/**
 * What the phases measure CPU on: each app, the bench's Kafka broker, PostgreSQL (the server and
 * all its backends, the databases of every service), the bench itself, and the whole machine.
 */
function cpuMeter(system: RunningSystem, kafkaPid: number | undefined): CpuMeter {
  return new CpuMeter({
    ...Object.fromEntries(appNames.map((name) => [name, () => processCpuUs(system.apps.get(name)?.child.pid)])),
    postgres: () => commandCpuUs('postgres'),
    kafka: () => processCpuUs(kafkaPid),
    bench: () => processCpuUs(process.pid),
    machine: machineCpuUs,
  });
}

function describeCpu(result: PhaseResult): string {
  const { machine, ...processes } = result.cpuMsPerOrder;
  const parts = Object.entries(processes)
    .sort(([, a], [, b]) => b - a)
    .map(([name, ms]) => `${name} ${ms.toFixed(2)}`);
  const transactions = Object.entries(result.transactionsPerOrder).map(([service, count]) => `${service} ${count.toFixed(2)}`);
  return (
    `CPU ms per decided order: ${parts.join(', ')}; machine ${machine?.toFixed(2) ?? '?'} (cores ${Math.round(result.machineBusy * 100)}% busy)\n` +
    `database transactions per decided order: ${transactions.join(', ')}`
  );
}

async function bench(system: RunningSystem, brokers: string[], adminUrl: string, databaseUrls: Readonly<Record<string, string>>, kafkaPid: number | undefined): Promise<boolean> {
  const api = new PublicApi(system.gatewayUrl);
  const orders = new pg.Pool({ connectionString: databaseUrls['orders'], max: 1 });
  for (const product of benchSkus) {
    await orders.query('INSERT INTO products (sku, name, price_cents, stock) VALUES ($1, $2, $3, $4)', [product.sku, product.name, product.price_cents, product.stock]);
  }
  await orders.end();

  console.log(`\n== ${userCount} users with accounts`);
  const userIds = await Promise.all(
    Array.from({ length: userCount }, async (_, index) => {
      const user = await api.createUser(`bench.${index}.${randomUUID().slice(0, 8)}@example.com`, `Bench User ${index}`);
      await api.activateUser(user.id);
      await api.waitForAccount(user.id);
      return user.id;
    }),
  );

  const decisions = new Map<string, Decision>();
  const consumer = await watchDecisions(brokers, decisions);
  const placer = new OrderPlacer(system.gatewayUrl, await mintDevToken());
  const meter = cpuMeter(system, kafkaPid);
  const transactions = transactionReading(adminUrl, databaseUrls);
  try {
    if (warmupSeconds > 0) {
      console.log(`\n== Warming up: ${warmupRate} orders/s for ${warmupSeconds} s (the fresh JVM's and Node's JIT, the services' connections and caches)`);
      await phase(placer, userIds, decisions, warmupRate, warmupSeconds, meter, transactions.read);
    }
    const results: PhaseResult[] = [];
    for (const rate of rates) {
      console.log(`\n== ${rate} orders/s for ${durationSeconds} s`);
      const result = await phase(placer, userIds, decisions, rate, durationSeconds, meter, transactions.read);
      results.push(result);
      console.log(
        `${result.accepted}/${result.offered} accepted, ${result.approved} approved, ${result.rejected} rejected, ${result.lost} lost; ` +
          `${result.completedPerSecond.toFixed(1)} completed/s; POST→final p50 ${result.p50} ms, p99 ${result.p99} ms, max ${result.max} ms`,
      );
      console.log(describeCpu(result));
    }

    console.log(`\n== PlaceOrder saga, POST /api/orders → final status (APPROVED/REJECTED), ${durationSeconds} s per rate`);
    console.table(
      Object.fromEntries(
        results.map((r) => [
          `${r.rate}/s`,
          {
            offered: r.offered,
            accepted: r.accepted,
            refused: r.refused,
            lost: r.lost,
            'completed/s': Number(r.completedPerSecond.toFixed(1)),
            'p50 ms': r.p50,
            'p99 ms': r.p99,
            'max ms': r.max,
            'POST p50 ms': r.postP50,
            'POST p99 ms': r.postP99,
            'event lag p50 ms': r.lagP50,
          },
        ]),
      ),
    );
    let met = true;
    const atTarget = results.find((r) => r.rate === targets.atRate);
    if (atTarget !== undefined) {
      const ok = atTarget.p50 <= targets.maxP50Ms && atTarget.p99 <= targets.maxP99Ms;
      met &&= ok;
      console.log(`at ${targets.atRate}/s: p50 ${atTarget.p50} ms (target ≤ ${targets.maxP50Ms}), p99 ${atTarget.p99} ms (target ≤ ${targets.maxP99Ms}) ${ok ? 'ok' : 'MISSED'}`);
    }
    const sustained = results.find((r) => r.rate === targets.sustainedRate);
    if (sustained !== undefined) {
      const ok = sustained.completedPerSecond >= targets.sustainedRate * 0.98 && sustained.lost === 0 && sustained.refused === 0;
      met &&= ok;
      console.log(
        `at ${targets.sustainedRate}/s: ${sustained.completedPerSecond.toFixed(1)} orders/s completed, ${sustained.refused} refused at the door, ` +
          `${sustained.lost} accepted but never decided (target: ${targets.sustainedRate}/s sustained, nothing refused or lost) ${ok ? 'ok' : 'MISSED'}`,
      );
    }
    return met;
  } finally {
    await placer.close();
    await consumer.disconnect();
    await transactions.close();
  }
}

async function main(): Promise<number> {
  console.log('== Infrastructure');
  const infra = await bringUpInfrastructure({ log: (line) => console.log(line) });
  if (!values['skip-build']) {
    console.log('\n== Building the apps');
    buildApps();
  }
  console.log('\n== A Kafka broker of its own');
  mkdirSync(path.join(root, 'tmp'), { recursive: true });
  const kafka: KafkaOptions = { port: await freePort(), controllerPort: await freePort(), stateDir: mkdtempSync(path.join(root, 'tmp', 'bench-kafka-')) };
  const { brokers, pid: kafkaPid } = await startKafka(kafka);
  let running: TestSystem | undefined;
  try {
    console.log('\n== Starting the system');
    running = await startTestSystem({
      prefix: 'bench_saga',
      adminUrl: infra.pgAdminUrl,
      kafkaBrokers: brokers.join(','),
      logDir: path.join(root, 'tmp', 'bench-logs', `saga-${new Date().toISOString().replace(/[:.]/g, '-')}`),
      env: { LOG_LEVEL: 'warn' },
      appEnv: {
        // A load generator is one very busy client: the rate limit must not be what is measured.
        gateway: { RATE_LIMIT_PER_MINUTE: '100000000' },
        'payment-service': { STARTING_BALANCE_CENTS: '1000000000000' },
      },
    });
    const { system } = running;
    const met = await bench(system, brokers, infra.pgAdminUrl, running.databases.urls, kafkaPid);
    return met || !values.strict ? 0 : 1;
  } finally {
    await running?.dispose();
    await stopKafka(kafka);
    rmSync(kafka.stateDir!, { recursive: true, force: true });
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
