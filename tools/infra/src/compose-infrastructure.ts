import { createServer } from 'node:net';
import path from 'node:path';
import { composeFilePath, loadComposeFile, postgresServiceLogin, testcontainersComposeFilePath, type ComposeFile } from './compose-file.js';
import type { ComposeCli, DockerEndpoint } from './docker-engine.js';
import { waitForKafka, type ProgressLog } from './kafka.js';
import { waitForPostgres, type ServiceDatabase } from './postgres.js';
import { workspaceRoot } from './workspace.js';

/** The compose services that hold each service's database (one PostgreSQL server per service). */
export const databaseServices = { users: 'users-db', orders: 'orders-db', payments: 'payments-db' } as const satisfies Record<ServiceDatabase, string>;

/** The broker's compose service. */
export const kafkaService = 'kafka';

/** The port of the extra Kafka listener that `compose.testcontainers.yml` publishes on the Docker host. */
export const kafkaHostListenerPort = 19092;

/** What to start and how: the pure part of {@link startComposeInfrastructure}, testable without an engine. */
export interface ComposeUpPlan {
  /** Compose files, relative to the workspace root, in `-f` order. */
  files: string[];
  /** Services passed to `docker compose up`. */
  services: string[];
  /** Variables for Compose's `${...}` interpolation in `compose.testcontainers.yml`. */
  environment: Record<string, string>;
  /** Container names (`<service>-1`, as testcontainers names them) to wait for until Docker reports them healthy. */
  healthyContainers: string[];
}

/**
 * Plans the start of the infrastructure services: PostgreSQL's three servers (the first one,
 * `users-db`, also holds the tests' throwaway databases) and/or Kafka. Kafka advertises a second
 * listener on `<advertisedHost>:<kafkaHostPort>`, published on the Docker host at the same port,
 * because a broker must know the address its clients reach it by; the databases get any free
 * host port. Ports are bound to loopback only when the Docker host is this machine's loopback.
 */
export function composeUpPlan(options: { postgres: boolean; kafka: boolean; advertisedHost: string; kafkaHostPort: number }): ComposeUpPlan {
  const services = [...(options.kafka ? [kafkaService] : []), ...(options.postgres ? Object.values(databaseServices) : [])];
  return {
    files: [composeFilePath, testcontainersComposeFilePath].map((file) => path.relative(workspaceRoot, file)),
    services,
    environment: {
      MSR_TC_BIND_ADDRESS: isLoopback(options.advertisedHost) ? '127.0.0.1' : '0.0.0.0',
      MSR_TC_KAFKA_HOST: options.advertisedHost,
      MSR_TC_KAFKA_PORT: String(options.kafkaHostPort),
    },
    healthyContainers: services.map((service) => `${service}-1`),
  };
}

/** Infrastructure running in containers, with the addresses the tests and the demo use. */
export interface ComposeInfrastructure {
  /** Admin URL of the `users-db` server (tests create their databases there). */
  pgAdminUrl?: string;
  /** Each service's database on its own server. */
  serviceDatabaseUrls?: Record<ServiceDatabase, string>;
  kafkaBrokers?: string[];
  /** `docker compose down -v`: removes the containers and their volumes. */
  down(): Promise<void>;
}

/** Options of {@link startComposeInfrastructure}. */
export interface ComposeStartOptions {
  postgres: boolean;
  kafka: boolean;
  /** The engine {@link probeDockerEngine} found; testcontainers and Compose are pointed at it. */
  endpoint: DockerEndpoint;
  compose: ComposeCli;
  log: ProgressLog;
  /** Per container, in ms. Default 180 000 (the first run pulls the images). */
  startupTimeoutMs?: number;
}

/**
 * Starts the infrastructure services of `docker-compose.yml` (with `compose.testcontainers.yml`
 * laid over it) through testcontainers' `DockerComposeEnvironment`, waits until Docker reports
 * each healthy (the healthchecks of the compose file) and until they answer from this machine,
 * and returns their addresses. The project gets a fresh random name, so its volumes start empty;
 * testcontainers' reaper removes everything should this process die before `down()`.
 *
 * @throws Error when Compose or a container fails, or a container is not healthy in time; the
 *   environment is then taken down again.
 */
export async function startComposeInfrastructure(options: ComposeStartOptions): Promise<ComposeInfrastructure> {
  pointTestcontainersAt(options.endpoint);
  // Loaded here, not at the top: the other paths never need testcontainers and its dependencies.
  const { DockerComposeEnvironment, Wait, getContainerRuntimeClient } = await import('testcontainers');
  const runtime = await getContainerRuntimeClient();
  const advertisedHost = runtime.info.containerRuntime.host === 'localhost' ? '127.0.0.1' : runtime.info.containerRuntime.host;
  const plan = composeUpPlan({ postgres: options.postgres, kafka: options.kafka, advertisedHost, kafkaHostPort: await freePort() });
  const composeFile = loadComposeFile();

  let environment = new DockerComposeEnvironment(workspaceRoot, plan.files)
    .withEnvironment(plan.environment)
    .withStartupTimeout(options.startupTimeoutMs ?? 180_000);
  for (const container of plan.healthyContainers) environment = environment.withWaitStrategy(container, Wait.forHealthCheck());
  if (options.compose.kind === 'standalone') environment = environment.withClientOptions({ executable: { standalone: true } });

  options.log(`docker: starting ${plan.services.join(', ')} (docker compose -f ${plan.files.join(' -f ')} up)`);
  const started = await environment.up(plan.services);
  const down = async () => {
    await started.down({ removeVolumes: true, timeout: 10_000 });
    options.log(`docker: removed ${plan.services.join(', ')} and their volumes`);
  };
  try {
    const result: ComposeInfrastructure = { down };
    if (options.postgres) {
      const urls = Object.fromEntries(
        Object.entries(databaseServices).map(([database, service]) => {
          const container = started.getContainer(`${service}-1`);
          return [database, postgresUrl(composeFile, service, advertisedHost, container.getMappedPort(5432))];
        }),
      ) as Record<ServiceDatabase, string>;
      await Promise.all(Object.values(urls).map((url) => waitForPostgres(url, { timeoutMs: 30_000 })));
      result.pgAdminUrl = urls.users;
      result.serviceDatabaseUrls = urls;
    }
    if (options.kafka) {
      const port = started.getContainer(`${kafkaService}-1`).getMappedPort(kafkaHostListenerPort);
      result.kafkaBrokers = [`${advertisedHost}:${port}`];
      await waitForKafka(result.kafkaBrokers, { timeoutMs: 60_000 });
    }
    return result;
  } catch (error) {
    await down().catch(() => undefined);
    throw error;
  }
}

/** `postgres://user:password@host:port/database` for a PostgreSQL service of the compose file. */
export function postgresUrl(compose: ComposeFile, service: string, host: string, port: number): string {
  const login = postgresServiceLogin(compose, service);
  const url = new URL(`postgres://${host}:${port}/${encodeURIComponent(login.database)}`);
  url.username = encodeURIComponent(login.user);
  url.password = encodeURIComponent(login.password);
  return url.toString();
}

function pointTestcontainersAt(endpoint: DockerEndpoint): void {
  // testcontainers and the Compose CLI read these; without them they could pick another engine
  // (e.g. a stale /var/run/docker.sock before the rootless socket that answered the probe).
  process.env['DOCKER_HOST'] = endpoint.uri;
  if (endpoint.tls) {
    process.env['DOCKER_TLS_VERIFY'] = '1';
    process.env['DOCKER_CERT_PATH'] = path.dirname(endpoint.tls.ca);
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** A TCP port free on this machine right now, for the Kafka listener that must know its own published port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}
