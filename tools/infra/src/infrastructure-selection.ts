import { detectComposeCli, probeDockerEngine, type ComposeCli, type DockerEndpoint, type DockerProbeResult } from './docker-engine.js';
import { parseBrokerList } from './kafka-config.js';
import { redactUrl } from './postgres.js';

/**
 * Where one piece of infrastructure comes from:
 * - `environment`: its address was given (`PG_ADMIN_URL`, `KAFKA_BROKERS`); nothing is started;
 * - `docker`: its service in `docker-compose.yml`, started through testcontainers;
 * - `local`: the local path (Kafka from its Maven Central jars, the PostgreSQL server at the default URL).
 */
export type InfrastructureSource = 'environment' | 'docker' | 'local';

/** What {@link chooseInfrastructure} decided, and why. */
export interface InfrastructureChoice {
  postgres: InfrastructureSource;
  kafka: InfrastructureSource;
  /** The engine and Compose CLI to use; present when a source is `docker`. */
  docker?: { endpoint: DockerEndpoint; compose: ComposeCli };
  /** One line for the log naming the choice and the reason, e.g. `local (no Docker engine: ...)`. */
  summary: string;
}

/** `MSR_INFRA`: `auto` (default) picks by the rules of {@link chooseInfrastructure}; `docker` and `local` force a path. */
export type InfrastructureMode = 'auto' | 'docker' | 'local';

/** Inputs of {@link chooseInfrastructure}; the probes are injectable so every branch can be tested. */
export interface ChooseOptions {
  /** Read for `PG_ADMIN_URL`, `KAFKA_BROKERS` and `MSR_INFRA`. */
  env: Record<string, string | undefined>;
  /**
   * False for callers that cannot keep containers: `npm run infra:up` exits after starting,
   * and testcontainers removes what a process started when that process ends. Default true.
   */
  allowDocker?: boolean;
  /** Default {@link probeDockerEngine} (about 1 s at worst). */
  probeDocker?: () => Promise<DockerProbeResult>;
  /** Default {@link detectComposeCli}. */
  detectCompose?: () => Promise<ComposeCli | string>;
}

/**
 * Decides where PostgreSQL and Kafka come from, in this order:
 * 1. an address given in the environment (`PG_ADMIN_URL`, `KAFKA_BROKERS`) is used as it is;
 * 2. otherwise, when a Docker engine answers and Compose v2 is installed, the infrastructure
 *    services of `docker-compose.yml` are started through testcontainers;
 * 3. otherwise the local path.
 * The engine is only probed when something is missing, so runs that pass addresses on (the
 * test processes `npm test` starts) never wait for Docker. `MSR_INFRA=local` skips the probe;
 * `MSR_INFRA=docker` insists on Docker.
 *
 * @throws Error when `MSR_INFRA` is not `auto`, `docker` or `local`, or is `docker` and no
 *   engine with Compose v2 answers.
 */
export async function chooseInfrastructure(options: ChooseOptions): Promise<InfrastructureChoice> {
  const { env } = options;
  const mode = infrastructureMode(env);
  const pgAdminUrl = env['PG_ADMIN_URL']?.trim() || undefined;
  const kafkaBrokers = parseBrokerList(env['KAFKA_BROKERS'] ?? '');
  const given = [
    ...(pgAdminUrl ? [`postgres from PG_ADMIN_URL (${redactUrl(pgAdminUrl)})`] : []),
    ...(kafkaBrokers.length > 0 ? [`kafka from KAFKA_BROKERS (${kafkaBrokers.join(',')})`] : []),
  ];
  const choose = (missing: InfrastructureSource, how: string, docker?: InfrastructureChoice['docker']): InfrastructureChoice => {
    const choice: InfrastructureChoice = {
      postgres: pgAdminUrl ? 'environment' : missing,
      kafka: kafkaBrokers.length > 0 ? 'environment' : missing,
      summary: '',
      ...(docker ? { docker } : {}),
    };
    const rest = [choice.postgres === 'environment' ? undefined : 'postgres', choice.kafka === 'environment' ? undefined : 'kafka'].filter(Boolean).join(' and ');
    choice.summary = [...given, ...(rest ? [`${rest} ${how}`] : [])].join('; ');
    return choice;
  };

  if (pgAdminUrl && kafkaBrokers.length > 0) return choose('environment', '');
  if (mode === 'local') return choose('local', 'local (MSR_INFRA=local)');
  if (options.allowDocker === false) return choose('local', 'local (this command keeps what it starts running, which testcontainers would not)');

  const refuse = (reason: string): InfrastructureChoice => {
    if (mode === 'docker') throw new Error(`MSR_INFRA=docker, but ${reason}`);
    return choose('local', `local (${reason})`);
  };
  const engine = await (options.probeDocker ?? (() => probeDockerEngine()))();
  if (!engine.available) return refuse(`no working Docker engine: ${engine.reason}`);
  const compose = await (options.detectCompose ?? (() => detectComposeCli()))();
  if (typeof compose === 'string') return refuse(`the Docker engine at ${engine.endpoint.uri} answers, but Compose v2 is missing: ${compose}`);
  return choose(
    'docker',
    `from docker-compose.yml through testcontainers (Docker engine at ${engine.endpoint.uri} via ${engine.endpoint.source}, Compose ${compose.version} ${compose.kind})`,
    { endpoint: engine.endpoint, compose },
  );
}

/** `MSR_INFRA` read and checked. */
export function infrastructureMode(env: Record<string, string | undefined>): InfrastructureMode {
  const value = env['MSR_INFRA']?.trim() || 'auto';
  if (value === 'auto' || value === 'docker' || value === 'local') return value;
  throw new Error(`MSR_INFRA must be auto, docker or local, not ${JSON.stringify(value)}`);
}
