import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { infraDir } from './workspace.js';

/** Where and how the local broker runs. Every field has a default; tests override ports and `stateDir`. */
export interface KafkaOptions {
  /** Interface both listeners bind to and the broker advertises. Default `127.0.0.1`. */
  host?: string;
  /** Client (PLAINTEXT) listener port. Default 9092. */
  port?: number;
  /** KRaft controller listener port. Default 9093. */
  controllerPort?: number;
  /** Holds `data/`, `logs/`, `config/` and the pid file of one broker. Default `<root>/.infra/kafka`. */
  stateDir?: string;
  /** Folder of resolved jars, shared by every broker. Default `<root>/.infra/kafka/libs`. */
  libsDir?: string;
  /** Maximum Java heap in MB. Default 512. */
  heapMb?: number;
  /** How long {@link startKafka} waits for the broker to answer, in ms. Default 90 000. */
  startTimeoutMs?: number;
  /** How long `stopKafka` waits after SIGTERM before SIGKILL, in ms. Default 30 000. */
  stopTimeoutMs?: number;
}

/** {@link KafkaOptions} with defaults applied and every path of one broker spelled out. */
export interface KafkaLayout {
  host: string;
  port: number;
  controllerPort: number;
  heapMb: number;
  startTimeoutMs: number;
  stopTimeoutMs: number;
  stateDir: string;
  libsDir: string;
  /** KRaft metadata and topic partitions (`log.dirs`). */
  dataDir: string;
  logsDir: string;
  /** The broker's own log (log4j). */
  serverLog: string;
  /** The JVM's stdout and stderr: start-up failures that happen before log4j is configured. */
  consoleLog: string;
  serverProperties: string;
  log4jProperties: string;
  /** Holds the pid of the broker this tooling started; absent when it started none. */
  pidFile: string;
}

/** Default broker directory, `<root>/.infra/kafka`. */
export const defaultKafkaStateDir: string = path.join(infraDir, 'kafka');

/** Applies the defaults of {@link KafkaOptions}. */
export function kafkaLayout(options: KafkaOptions = {}): KafkaLayout {
  const stateDir = path.resolve(options.stateDir ?? defaultKafkaStateDir);
  const logsDir = path.join(stateDir, 'logs');
  return {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 9092,
    controllerPort: options.controllerPort ?? 9093,
    heapMb: options.heapMb ?? 512,
    startTimeoutMs: options.startTimeoutMs ?? 90_000,
    stopTimeoutMs: options.stopTimeoutMs ?? 30_000,
    stateDir,
    libsDir: path.resolve(options.libsDir ?? path.join(defaultKafkaStateDir, 'libs')),
    dataDir: path.join(stateDir, 'data'),
    logsDir,
    serverLog: path.join(logsDir, 'server.log'),
    consoleLog: path.join(logsDir, 'console.log'),
    serverProperties: path.join(stateDir, 'config', 'server.properties'),
    log4jProperties: path.join(stateDir, 'config', 'log4j.properties'),
    pidFile: path.join(stateDir, 'kafka.pid'),
  };
}

/** The client address of the broker described by `layout`, e.g. `127.0.0.1:9092`. */
export function brokerAddress(layout: Pick<KafkaLayout, 'host' | 'port'>): string {
  return `${layout.host}:${layout.port}`;
}

/**
 * `server.properties` for one combined broker+controller in KRaft mode. Replication factors are 1
 * because there is one node; topics are never auto-created, so every service must declare its
 * topics (`KafkaBus.ensureTopics`) and a typo in a topic name fails instead of creating a new topic.
 */
export function renderServerProperties(layout: Pick<KafkaLayout, 'host' | 'port' | 'controllerPort' | 'dataDir'>): string {
  const { host, port, controllerPort, dataDir } = layout;
  const properties: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@${host}:${controllerPort}`,
    listeners: `PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${host}:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': dataDir,
    'num.partitions': 3,
    'offsets.topic.replication.factor': 1,
    // Kafka's default of 50 partitions for a single-node broker only slows its first group lookup.
    'offsets.topic.num.partitions': 5,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    'auto.create.topics.enable': false,
  };
  const lines = Object.entries(properties).map(([key, value]) => `${key}=${escapePropertyValue(String(value))}`);
  return `# Written by tools/infra (startKafka); rewritten on every start.\n${lines.join('\n')}\n`;
}

/** `log4j.properties` sending every broker log line to `serverLog` instead of the console. */
export function renderLog4jProperties(serverLog: string): string {
  return [
    '# Written by tools/infra (startKafka).',
    'log4j.rootLogger=INFO, file',
    'log4j.appender.file=org.apache.log4j.FileAppender',
    `log4j.appender.file.File=${escapePropertyValue(serverLog)}`,
    'log4j.appender.file.Append=true',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    // The state-change and request loggers are chatty at INFO and say nothing a developer needs.
    'log4j.logger.state.change.logger=WARN',
    'log4j.logger.kafka.request.logger=WARN',
    '',
  ].join('\n');
}

/**
 * A fresh KRaft cluster id: 16 random bytes in URL-safe base64 without padding, as Kafka's `Uuid`.
 * Like Kafka's own `Uuid.randomUuid()`, it never starts with `-`: the storage tool's argument
 * parser would read such an id (`-t --REDp…`) as an option and refuse to format.
 *
 * @param bytes - source of 16 random bytes; injectable for tests.
 */
export function newClusterId(bytes: () => Buffer = () => randomBytes(16)): string {
  for (;;) {
    const id = bytes().toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * True when `commandLine` (the argv of a process) is `kafka.Kafka` run with `serverProperties`:
 * the check that keeps `stopKafka` from signalling a process that merely reused a stale pid, or a
 * broker someone else started.
 */
export function isOwnKafkaCommandLine(commandLine: readonly string[], serverProperties: string): boolean {
  const main = commandLine.indexOf('kafka.Kafka');
  const config = main >= 0 ? commandLine[main + 1] : undefined;
  return config !== undefined && path.resolve(config) === path.resolve(serverProperties);
}

/** Splits a `KAFKA_BROKERS`-style comma list into addresses, ignoring blanks. */
export function parseBrokerList(value: string): string[] {
  return value
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0);
}

// java.util.Properties treats backslash as an escape, so Windows-style paths must be doubled.
function escapePropertyValue(value: string): string {
  return value.replace(/\\/g, '\\\\');
}
