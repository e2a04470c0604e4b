import { startComposeInfrastructure, type ComposeInfrastructure, type ComposeStartOptions } from './compose-infrastructure.js';
import type { ComposeCli, DockerProbeResult } from './docker-engine.js';
import { chooseInfrastructure, type InfrastructureSource } from './infrastructure-selection.js';
import { parseBrokerList, type KafkaOptions } from './kafka-config.js';
import { startKafka, stopKafka, waitForKafka, type ProgressLog } from './kafka.js';
import { adminUrlFromEnv, databaseUrl, ensureServiceDatabases, redactUrl, serviceDatabases, waitForPostgres, type ServiceDatabase } from './postgres.js';
import { displayPath } from './workspace.js';

/** The brokers named by `KAFKA_BROKERS` (comma list), or undefined when it is unset or blank. */
export function kafkaBrokersFromEnv(env: Record<string, string | undefined> = process.env): string[] | undefined {
  const brokers = parseBrokerList(env['KAFKA_BROKERS'] ?? '');
  return brokers.length > 0 ? brokers : undefined;
}

/** Options of {@link bringUpInfrastructure}. */
export interface InfrastructureOptions {
  /** Where `PG_ADMIN_URL`, `KAFKA_BROKERS` and `MSR_INFRA` are read from. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Progress lines, e.g. `console.log`. */
  log?: ProgressLog;
  /** The local broker to start on the local path. */
  kafka?: KafkaOptions;
  /** How long to wait for PostgreSQL and for a given broker, in ms. Default 60 000. */
  waitTimeoutMs?: number;
  /** False for callers that must leave what they start running after they exit (`infra:up`). Default true. */
  allowDocker?: boolean;
  /** Test seams: the engine probe, the Compose CLI check and the container start. */
  probeDocker?: () => Promise<DockerProbeResult>;
  detectCompose?: () => Promise<ComposeCli | string>;
  startCompose?: (options: ComposeStartOptions) => Promise<ComposeInfrastructure>;
}

/** The infrastructure that {@link bringUpInfrastructure} made ready, and how to release it. */
export interface Infrastructure {
  /** Where each piece came from (see {@link chooseInfrastructure}). */
  sources: { postgres: InfrastructureSource; kafka: InfrastructureSource };
  /** Admin URL of a PostgreSQL server (pass on as `PG_ADMIN_URL`); it holds `users`, `orders` and `payments`. */
  pgAdminUrl: string;
  /**
   * Each service's own database. With Docker every one is on its own server (the compose file's
   * `users-db`, `orders-db`, `payments-db`); otherwise all are on the `pgAdminUrl` server.
   */
  serviceDatabaseUrls: Record<ServiceDatabase, string>;
  /** Service databases this call created on the `pgAdminUrl` server (the others existed already). */
  createdDatabases: string[];
  /** Broker addresses (pass on as `KAFKA_BROKERS`). */
  kafkaBrokers: string[];
  /**
   * `started`: this call started the local broker; `already-running`: a broker already answered at
   * the local address; `external`: `KAFKA_BROKERS` named the brokers and this call only waited for
   * them; `container`: the compose file's `kafka` service, started by this call.
   */
  kafka: 'started' | 'already-running' | 'external' | 'container';
  /** Pid of the local broker when this tooling runs it. */
  kafkaPid?: number;
  /** Stops what this call started (the local broker it started, the containers); nothing else. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * Makes PostgreSQL and Kafka ready for `npm test`, the e2e suite and the demo, from where
 * {@link chooseInfrastructure} says (addresses in the environment, else Docker through
 * testcontainers, else the local path) and logs that choice first as `infrastructure: ...`.
 * On every path the `PG_ADMIN_URL` server ends up with the databases `users`, `orders` and
 * `payments`, so callers work the same whichever was chosen.
 *
 * @throws Error when PostgreSQL or a given broker does not answer in time, the local broker or
 *   the containers cannot be started, or `MSR_INFRA` asks for what is not there. Whatever this
 *   call started before the failure is released again.
 */
export async function bringUpInfrastructure(options: InfrastructureOptions = {}): Promise<Infrastructure> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.waitTimeoutMs ?? 60_000;
  const choice = await chooseInfrastructure({
    env,
    ...(options.allowDocker === undefined ? {} : { allowDocker: options.allowDocker }),
    ...(options.probeDocker ? { probeDocker: options.probeDocker } : {}),
    ...(options.detectCompose ? { detectCompose: options.detectCompose } : {}),
  });
  log(`infrastructure: ${choice.summary}`);

  const releases: Array<() => Promise<void>> = [];
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    for (const step of releases.reverse()) await step();
  };

  try {
    let containers: ComposeInfrastructure | undefined;
    if (choice.docker) {
      const start = options.startCompose ?? startComposeInfrastructure;
      containers = await start({ postgres: choice.postgres === 'docker', kafka: choice.kafka === 'docker', endpoint: choice.docker.endpoint, compose: choice.docker.compose, log });
      releases.push(containers.down);
    }

    const pgAdminUrl = choice.postgres === 'docker' ? required(containers?.pgAdminUrl, 'pgAdminUrl') : adminUrlFromEnv(env);
    await waitForPostgres(pgAdminUrl, { timeoutMs });
    const createdDatabases = await ensureServiceDatabases(pgAdminUrl);
    const serviceDatabaseUrls =
      choice.postgres === 'docker'
        ? required(containers?.serviceDatabaseUrls, 'serviceDatabaseUrls')
        : (Object.fromEntries(serviceDatabases.map((name) => [name, databaseUrl(pgAdminUrl, name)])) as Infrastructure['serviceDatabaseUrls']);
    const created = createdDatabases.length > 0 ? `(created ${createdDatabases.join(', ')})` : '(all present)';
    log(`postgres: ready at ${redactUrl(pgAdminUrl)}; databases users, orders, payments ${created}${choice.postgres === 'docker' ? '; each service has its own server (users-db, orders-db, payments-db)' : ''}`);

    const common = { sources: { postgres: choice.postgres, kafka: choice.kafka }, pgAdminUrl, serviceDatabaseUrls, createdDatabases, release };
    switch (choice.kafka) {
      case 'environment': {
        const brokers = required(kafkaBrokersFromEnv(env), 'KAFKA_BROKERS');
        await waitForKafka(brokers, { timeoutMs });
        log(`kafka: answering at ${brokers.join(',')} (from KAFKA_BROKERS; not managed here)`);
        return { ...common, kafkaBrokers: brokers, kafka: 'external' };
      }
      case 'docker': {
        const brokers = required(containers?.kafkaBrokers, 'kafkaBrokers');
        log(`kafka: answering at ${brokers.join(',')} (container of the compose service kafka)`);
        return { ...common, kafkaBrokers: brokers, kafka: 'container' };
      }
      case 'local': {
        const kafka = await startKafka({ ...options.kafka, log });
        if (kafka.startedByUs) {
          log(`kafka: started at ${kafka.brokers.join(',')} (pid ${kafka.pid}, log ${displayPath(kafka.serverLog)})`);
          releases.push(async () => {
            const stopped = await stopKafka(options.kafka);
            log(`kafka: ${stopped.outcome === 'stopped' ? `stopped pid ${stopped.pid}${stopped.forced ? ' (killed after SIGTERM timed out)' : ''}` : `nothing to stop (${stopped.outcome})`}`);
          });
        } else {
          const owner = kafka.pid === undefined ? 'not started by infra:up; left running' : `pid ${kafka.pid}, started earlier by this tooling`;
          log(`kafka: already running at ${kafka.brokers.join(',')} (${owner})`);
        }
        return {
          ...common,
          kafkaBrokers: kafka.brokers,
          kafka: kafka.startedByUs ? 'started' : 'already-running',
          ...(kafka.pid === undefined ? {} : { kafkaPid: kafka.pid }),
        };
      }
    }
  } catch (error) {
    await release().catch(() => undefined);
    throw error;
  }
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`infrastructure: ${what} is missing`);
  return value;
}
