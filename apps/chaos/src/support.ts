import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort, startKafka, stopKafka, type KafkaOptions } from '@msr/infra';
import { createServiceTestDatabases } from '@msr/system';

const workspaceTmp = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../tmp');


/**
 * A Kafka broker of the suite's own (KRaft, spare ports, state in a fresh folder under `tmp/`), so
 * that restarting it disturbs nobody else's tests. A restart keeps the state folder, so topics,
 * committed offsets and the idempotent producers' state survive it, as on a real cluster.
 */
export class OwnKafka {
  private constructor(
    private readonly options: KafkaOptions,
    readonly brokers: string[],
  ) {}

  /** Starts a broker on free ports with a fresh state folder. */
  static async start(): Promise<OwnKafka> {
    const options: KafkaOptions = {
      host: '127.0.0.1',
      port: await freePort(),
      controllerPort: await freePort(),
      stateDir: mkdtempSync(path.join(workspaceTmp, 'chaos-kafka-')),
      heapMb: 384,
    };
    const started = await startKafka(options);
    return new OwnKafka(options, started.brokers);
  }

  /** Stops the broker (a controlled shutdown), then starts it again with the same state; resolves once it answers. */
  async restart(): Promise<void> {
    await stopKafka(this.options);
    await startKafka(this.options);
  }

  /** Stops the broker and deletes its state. */
  async dispose(): Promise<void> {
    await stopKafka(this.options);
    if (this.options.stateDir !== undefined) rmSync(this.options.stateDir, { recursive: true, force: true });
  }
}

/** The three service databases, fresh, with a pool on each for the checks (the suite may look inside: it is a test). */
export interface ServiceDatabases {
  urls: { users: string; orders: string; payments: string };
  users: pg.Pool;
  orders: pg.Pool;
  payments: pg.Pool;
  dispose(): Promise<void>;
}

function checkPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 3 });
  // Dropping the database at the end terminates connections still closing; that is expected.
  pool.on('error', () => undefined);
  return pool;
}

/** Creates fresh `users`, `orders` and `payments` test databases. */
export async function serviceDatabases(): Promise<ServiceDatabases> {
  const databases = await createServiceTestDatabases('chaos');
  const pools = { users: checkPool(databases.urls.users), orders: checkPool(databases.urls.orders), payments: checkPool(databases.urls.payments) };
  return {
    urls: databases.urls,
    ...pools,
    dispose: async () => {
      await Promise.all(Object.values(pools).map((pool) => pool.end()));
      await databases.drop();
    },
  };
}

/** The folder for this run's app logs, `tmp/chaos-logs/<time>`. */
export function logDirectory(): string {
  return path.join(workspaceTmp, 'chaos-logs', new Date().toISOString().replace(/[:.]/g, '-'));
}

/**
 * Polls `probe` every `intervalMs` until it returns a truthy value, and returns it.
 *
 * @throws {Error} naming `what` when `timeoutMs` passes first.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Seconds between two times, one decimal. */
export function seconds(from: number, to: number): string {
  return `${((to - from) / 1000).toFixed(1)} s`;
}

/**
 * Prints a line of the suite's report: the recovery figures are the point of running it, so they
 * go to the terminal rather than into a log file.
 */
export function report(line: string): void {
  // eslint-disable-next-line no-console -- the report is for the person running the suite.
  console.log(`[chaos] ${line}`);
}
