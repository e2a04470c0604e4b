import pg from 'pg';
import type { KafkaOptions } from './kafka-config.js';
import { detectComposeCli, probeDockerEngine } from './docker-engine.js';
import { kafkaStatus, probeKafka, stopKafka } from './kafka.js';
import { bringUpInfrastructure, kafkaBrokersFromEnv } from './infrastructure.js';
import { adminUrlFromEnv, redactUrl, serviceDatabases, waitForPostgres } from './postgres.js';
import { displayPath } from './workspace.js';

const usage = `usage: tsx tools/infra/cli.ts <up|down|status>
  up      wait for PostgreSQL, create the users/orders/payments databases, start Kafka on 127.0.0.1:9092
          (unless KAFKA_BROKERS is set: then only wait for those brokers)
  down    stop the Kafka broker that "up" started (never one started elsewhere)
  status  show what answers, what this tooling runs, and whether a Docker engine answers
environment: PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres), KAFKA_BROKERS (comma list)
with Docker, run the infrastructure with: docker compose up -d kafka users-db orders-db payments-db`;

/**
 * The `infra` command line (`npm run infra:up`, `npm run infra:down`): brings the local
 * infrastructure up, tears down what it started, or reports its state.
 *
 * @returns the process exit code: 0 on success, 1 on failure, 2 on a usage error.
 */
export async function runInfraCli(args: readonly string[], env: Record<string, string | undefined> = process.env, kafka: KafkaOptions = {}): Promise<number> {
  const log = (line: string) => console.log(line);
  try {
    switch (args[0]) {
      case 'up': {
        // The broker must outlive this command; containers started through testcontainers would not.
        const infra = await bringUpInfrastructure({ env, log, kafka, allowDocker: false });
        log(`\nexport PG_ADMIN_URL=${redactUrl(infra.pgAdminUrl)}\nexport KAFKA_BROKERS=${infra.kafkaBrokers.join(',')}`);
        if (infra.kafka === 'started') log('stop the broker with: npm run infra:down');
        return 0;
      }
      case 'down': {
        const stopped = await stopKafka(kafka);
        if (stopped.outcome === 'stopped') log(`kafka: stopped pid ${stopped.pid}${stopped.forced ? ' (killed after SIGTERM timed out)' : ''}`);
        if (stopped.outcome === 'stale-pid-file') log(`kafka: pid ${stopped.pid} from the pid file is no longer our broker; removed the pid file, signalled nothing`);
        if (stopped.outcome === 'not-started') log('kafka: no broker started by infra:up; nothing to stop (a broker started elsewhere is left running)');
        log('postgres: an external server; left running (databases are kept)');
        return 0;
      }
      case 'status':
        await printStatus(env, kafka, log);
        return 0;
      default:
        console.error(usage);
        return 2;
    }
  } catch (error) {
    console.error(`infra ${args[0]}: ${(error as Error).message}`);
    return 1;
  }
}

async function printStatus(env: Record<string, string | undefined>, kafka: KafkaOptions, log: (line: string) => void): Promise<void> {
  const adminUrl = adminUrlFromEnv(env);
  try {
    await waitForPostgres(adminUrl, { timeoutMs: 2_000 });
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1)', [[...serviceDatabases]]);
      const present = new Set(rows.map((row) => row.datname));
      log(`postgres: up at ${redactUrl(adminUrl)}; ${serviceDatabases.map((name) => `${name} ${present.has(name) ? 'present' : 'MISSING'}`).join(', ')}`);
    } finally {
      await client.end();
    }
  } catch {
    log(`postgres: not answering at ${redactUrl(adminUrl)}`);
  }

  const external = kafkaBrokersFromEnv(env);
  if (external) {
    log(`kafka: ${(await probeKafka(external)) ? 'up' : 'not answering'} at ${external.join(',')} (from KAFKA_BROKERS)`);
    return;
  }
  const status = await kafkaStatus(kafka);
  const owner = status.ownPid === undefined ? 'not started by infra:up' : `pid ${status.ownPid}, started by infra:up, log ${displayPath(status.serverLog)}`;
  log(`kafka: ${status.answering ? 'up' : 'not answering'} at ${status.brokers.join(',')} (${owner})`);

  const engine = await probeDockerEngine();
  if (!engine.available) {
    log(`docker: ${engine.reason} (npm test and the demo use the local path)`);
    return;
  }
  const compose = await detectComposeCli();
  log(`docker: engine at ${engine.endpoint.uri}; ${typeof compose === 'string' ? `no Compose v2 (${compose})` : `Compose ${compose.version} (${compose.kind})`}`);
}
