import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import {
  brokerAddress,
  isOwnKafkaCommandLine,
  kafkaLayout,
  newClusterId,
  renderLog4jProperties,
  renderServerProperties,
  type KafkaLayout,
  type KafkaOptions,
} from './kafka-config.js';
import { pollUntil } from './wait.js';
import { displayPath, workspaceRoot } from './workspace.js';

const execFileAsync = promisify(execFile);

/** Receives one human-readable progress line; the CLI prints it, tests usually pass nothing. */
export type ProgressLog = (line: string) => void;

/** The Maven project that resolves the broker's jars (kafka_2.13 and an slf4j binding). */
export const kafkaPom: string = path.join(workspaceRoot, 'tools', 'kafka', 'pom.xml');

const resolvedMarker = '.resolved';

/**
 * Copies the broker's jars from Maven Central into `libsDir` (default `<root>/.infra/kafka/libs`)
 * with `mvn dependency:copy-dependencies`. Skipped when a marker written after the last successful
 * copy names the current `tools/kafka/pom.xml` (by hash), so a download cut short, or a changed
 * pom, is redone from an empty folder.
 *
 * @returns the folder and whether jars were copied by this call.
 * @throws Error when Maven is missing or fails; the message carries Maven's output.
 */
export async function ensureKafkaJars(options: { libsDir?: string; log?: ProgressLog } = {}): Promise<{ libsDir: string; downloaded: boolean }> {
  const { libsDir } = kafkaLayout({ libsDir: options.libsDir });
  const marker = path.join(libsDir, resolvedMarker);
  const pomHash = createHash('sha256').update(await readFile(kafkaPom)).digest('hex');
  if ((await readFile(marker, 'utf8').catch(() => '')).trim() === pomHash) return { libsDir, downloaded: false };

  options.log?.(`kafka: resolving broker jars from Maven Central into ${displayPath(libsDir)}`);
  await rm(libsDir, { recursive: true, force: true });
  await mkdir(libsDir, { recursive: true });
  try {
    await execFileAsync('mvn', ['-q', '-B', '-f', kafkaPom, 'dependency:copy-dependencies', `-DoutputDirectory=${libsDir}`], {
      cwd: workspaceRoot,
      maxBuffer: 32 * 1024 * 1024,
    });
  } catch (error) {
    throw new Error(`could not resolve the Kafka jars with Maven (${describeExecError(error, 'mvn')})`, { cause: error });
  }
  await writeFile(marker, `${pomHash}\n`);
  return { libsDir, downloaded: true };
}

/**
 * True when a broker at `brokers` answers a metadata request (kafkajs `describeCluster`) within
 * `timeoutMs`. Never throws: an unreachable or non-Kafka address is just `false`.
 */
export async function probeKafka(brokers: string[], timeoutMs = 3_000): Promise<boolean> {
  return withProbeAdmin(brokers, timeoutMs, async (admin) => (await admin.describeCluster()).brokers.length > 0);
}

/**
 * True when a broker at `brokers` can coordinate consumer groups: a group lookup (kafkajs
 * `describeGroups`) succeeds within `timeoutMs`. A fresh broker creates its `__consumer_offsets`
 * topic on the first lookup and answers NOT_COORDINATOR until its partitions are loaded, which on
 * a slow machine outlasts a consumer's own retries. Never throws.
 */
export async function probeGroupCoordinator(brokers: string[], timeoutMs = 3_000): Promise<boolean> {
  return withProbeAdmin(brokers, timeoutMs, async (admin) => {
    // The group lookup needs the cluster's metadata first.
    await admin.describeCluster();
    await admin.describeGroups(['msr-infra-readiness']);
    return true;
  });
}

/** Runs `probe` with a quiet, non-retrying admin client; any failure is `false`. */
async function withProbeAdmin(brokers: string[], timeoutMs: number, probe: (admin: Admin) => Promise<boolean>): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'msr-infra-probe',
    brokers,
    connectionTimeout: Math.min(timeoutMs, 1_000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    // Refused connections are the expected answer while a broker starts; they are not news.
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await probe(admin);
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Waits until a broker at `brokers` answers a metadata request, then until it coordinates
 * consumer groups ({@link probeGroupCoordinator}), so that tests and services start against a
 * broker whose consumers can join at once.
 *
 * @throws Error when it does not within `timeoutMs` (default 60 000 ms, for both together).
 */
export async function waitForKafka(brokers: string[], options: { timeoutMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  await pollUntil(() => probeKafka(brokers), { timeoutMs: deadline - Date.now(), intervalMs: 500, what: `Kafka at ${brokers.join(',')}` });
  await waitForGroupCoordinator(brokers, deadline);
}

async function waitForGroupCoordinator(brokers: string[], deadline: number): Promise<void> {
  await pollUntil(() => probeGroupCoordinator(brokers), {
    timeoutMs: Math.max(1, deadline - Date.now()),
    intervalMs: 500,
    what: `Kafka at ${brokers.join(',')} to coordinate consumer groups`,
  });
}

/** What {@link startKafka} found or did. */
export interface KafkaStartResult {
  /** Client addresses of the broker, e.g. `['127.0.0.1:9092']`. */
  brokers: string[];
  /** True only when this call spawned the broker; then `stopKafka` with the same options stops it. */
  startedByUs: boolean;
  /** Pid of the broker when this tooling started it (now or earlier); absent for a broker started elsewhere. */
  pid?: number;
  /** The broker's log file when this tooling runs it. */
  serverLog: string;
}

/**
 * Brings up a single-node Apache Kafka (KRaft, broker+controller) from the Maven Central jars:
 * resolves the jars, writes `server.properties` and `log4j.properties`, formats the storage the
 * first time, spawns `java -cp '<libs>/*' kafka.Kafka` detached (own process group, output in
 * `logs/console.log`, broker log in `logs/server.log`), records its pid and waits until it answers
 * a metadata request and coordinates consumer groups. Starting twice is harmless: if a broker
 * already answers at the address, nothing is started and `startedByUs` is false.
 *
 * @throws Error when the jars cannot be resolved, formatting fails, or the broker exits or stays
 *   silent past `startTimeoutMs` (then it is stopped); the message quotes the broker's ERROR lines.
 */
export async function startKafka(options: KafkaOptions & { log?: ProgressLog } = {}): Promise<KafkaStartResult> {
  const layout = kafkaLayout(options);
  const brokers = [brokerAddress(layout)];
  const result = (startedByUs: boolean, pid?: number): KafkaStartResult => ({ brokers, startedByUs, serverLog: layout.serverLog, ...(pid === undefined ? {} : { pid }) });

  const existing = inspectPidFile(layout);
  if (await probeKafka(brokers)) {
    await waitForGroupCoordinator(brokers, Date.now() + layout.startTimeoutMs);
    return result(false, existing.kind === 'running' ? existing.pid : undefined);
  }
  if (existing.kind === 'running') {
    // Our broker from an earlier start that is still coming up (or hung): wait for it, never start a second one.
    options.log?.(`kafka: broker pid ${existing.pid} started earlier is not answering yet; waiting`);
    const since = logOffsets(layout);
    await waitForKafka(brokers, { timeoutMs: layout.startTimeoutMs }).catch((error: unknown) => {
      throw new Error(`Kafka pid ${existing.pid} (started by this tooling) does not answer at ${brokers[0]}; stop it with \`npm run infra:down\`\n${failureReport(layout, since)}`, {
        cause: error,
      });
    });
    return result(false, existing.pid);
  }

  await ensureKafkaJars({ libsDir: layout.libsDir, log: options.log });
  await writeConfiguration(layout);
  await formatStorageOnce(layout, options.log);

  options.log?.(`kafka: starting broker at ${brokers[0]} (log ${displayPath(layout.serverLog)})`);
  const since = logOffsets(layout);
  const broker = spawnBroker(layout);
  const pid = broker.pid;
  let exit: string | undefined;
  broker.child.once('exit', (code, signalName) => (exit = signalName ? `was killed by ${signalName}` : `exited with code ${code}`));
  await writeFile(layout.pidFile, `${pid}\n`);

  try {
    await pollUntil(
      async () => {
        if (exit !== undefined) throw new Error(`Kafka ${exit} before it answered at ${brokers[0]}\n${failureReport(layout, since)}`);
        return probeKafka(brokers);
      },
      { timeoutMs: layout.startTimeoutMs, intervalMs: 500, what: `Kafka at ${brokers[0]}` },
    );
    await waitForGroupCoordinator(brokers, Date.now() + layout.startTimeoutMs);
  } catch (error) {
    await stopKafka(options).catch(() => undefined);
    if (exit !== undefined) throw error;
    throw new Error(`${(error as Error).message}; the broker was stopped\n${failureReport(layout, since)}`, { cause: error });
  }
  return result(true, pid);
}

/** What {@link stopKafka} did. */
export interface KafkaStopResult {
  /**
   * `stopped`: the broker this tooling started has exited. `not-started`: there is no pid file,
   * so any broker at the address was started elsewhere and is left alone. `stale-pid-file`: the
   * recorded process is gone or is not our broker; the pid file was removed, nothing was signalled.
   */
  outcome: 'stopped' | 'not-started' | 'stale-pid-file';
  pid?: number;
  /** True when the broker ignored SIGTERM past `stopTimeoutMs` and was killed. */
  forced?: boolean;
}

/**
 * Stops the broker that {@link startKafka} started with the same options, and only that one: the
 * pid comes from the pid file and must still be `kafka.Kafka` running with this layout's
 * `server.properties`. Sends SIGTERM (a controlled shutdown), waits until the process is gone,
 * falls back to SIGKILL after `stopTimeoutMs`, then removes the pid file.
 *
 * @throws Error when the process survives even SIGKILL (e.g. not permitted to signal it).
 */
export async function stopKafka(options: KafkaOptions = {}): Promise<KafkaStopResult> {
  const layout = kafkaLayout(options);
  const state = inspectPidFile(layout);
  if (state.kind === 'none') return { outcome: 'not-started' };
  if (state.kind === 'stale') {
    await rm(layout.pidFile, { force: true });
    return { outcome: 'stale-pid-file', pid: state.pid };
  }

  const { pid } = state;
  let forced = false;
  signal(pid, 'SIGTERM');
  try {
    await pollUntil(async () => !isAlive(pid), { timeoutMs: layout.stopTimeoutMs, what: `Kafka pid ${pid} to exit after SIGTERM` });
  } catch {
    forced = true;
    signal(pid, 'SIGKILL');
    await pollUntil(async () => !isAlive(pid), { timeoutMs: 10_000, what: `Kafka pid ${pid} to exit after SIGKILL` });
  }
  await rm(layout.pidFile, { force: true });
  return { outcome: 'stopped', pid, forced };
}

/** Whether a broker answers at the layout's address and whether this tooling runs it. */
export interface KafkaStatus {
  brokers: string[];
  answering: boolean;
  /** Pid of the broker this tooling started, when that process is still running. */
  ownPid?: number;
  serverLog: string;
}

/** Reports on the broker {@link startKafka} would manage with the same options, without changing anything. */
export async function kafkaStatus(options: KafkaOptions = {}): Promise<KafkaStatus> {
  const layout = kafkaLayout(options);
  const brokers = [brokerAddress(layout)];
  const state = inspectPidFile(layout);
  return { brokers, answering: await probeKafka(brokers), serverLog: layout.serverLog, ...(state.kind === 'running' ? { ownPid: state.pid } : {}) };
}

/**
 * The argv of process `pid` (from `/proc/<pid>/cmdline`, or `ps` where there is no /proc), or
 * undefined when there is no such process.
 */
export function processCommandLine(pid: number): string[] | undefined {
  if (existsSync('/proc/self/cmdline')) {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part.length > 0);
    } catch {
      return undefined;
    }
  }
  try {
    // Without /proc the arguments arrive joined by spaces; paths with spaces would be split, which
    // only makes the ownership check stricter.
    return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).trim().split(/\s+/);
  } catch {
    return undefined;
  }
}

type PidFileState = { kind: 'none' } | { kind: 'stale'; pid: number } | { kind: 'running'; pid: number };

function inspectPidFile(layout: KafkaLayout): PidFileState {
  let text: string;
  try {
    text = readFileSync(layout.pidFile, 'utf8');
  } catch {
    return { kind: 'none' };
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) return { kind: 'stale', pid: Number.NaN };
  const commandLine = isAlive(pid) ? processCommandLine(pid) : undefined;
  return commandLine && isOwnKafkaCommandLine(commandLine, layout.serverProperties) ? { kind: 'running', pid } : { kind: 'stale', pid };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A child that exited but was not reaped yet still answers signal 0; it is gone for our purposes.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // No stat file: on Linux the process is gone by now; elsewhere there is no /proc to ask.
    return !existsSync('/proc/self');
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function writeConfiguration(layout: KafkaLayout): Promise<void> {
  await Promise.all([layout.dataDir, layout.logsDir, path.dirname(layout.serverProperties)].map((dir) => mkdir(dir, { recursive: true })));
  await writeFile(layout.serverProperties, renderServerProperties(layout));
  await writeFile(layout.log4jProperties, renderLog4jProperties(layout.serverLog));
}

function javaCommand(): string {
  return process.env['JAVA_HOME'] ? path.join(process.env['JAVA_HOME'], 'bin', 'java') : 'java';
}

/**
 * The broker's JVM options as Kafka's own `kafka-server-start.sh` sets them
 * (`KAFKA_HEAP_OPTS`, `KAFKA_JVM_PERFORMANCE_OPTS`): a heap of fixed size, so it is not grown
 * (and collected) step by step under the first load, and G1 tuned for short pauses.
 */
function brokerJvmOptions(layout: KafkaLayout): string[] {
  return [
    `-Xms${layout.heapMb}m`,
    '-server',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExplicitGCInvokesConcurrent',
    '-XX:MaxInlineLevel=15',
  ];
}

function javaArgs(layout: KafkaLayout, mainClass: string, args: string[]): string[] {
  return [
    ...(mainClass === 'kafka.Kafka' ? brokerJvmOptions(layout) : []),
    `-Xmx${layout.heapMb}m`,
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=${pathToFileURL(layout.log4jProperties).href}`,
    '-cp',
    // Java expands `dir/*` itself; no shell is involved.
    path.join(layout.libsDir, '*'),
    mainClass,
    ...args,
  ];
}

async function formatStorageOnce(layout: KafkaLayout, log: ProgressLog | undefined): Promise<void> {
  if (existsSync(path.join(layout.dataDir, 'meta.properties'))) return;
  const clusterId = newClusterId();
  log?.(`kafka: formatting storage in ${displayPath(layout.dataDir)} (cluster id ${clusterId})`);
  try {
    await execFileAsync(javaCommand(), javaArgs(layout, 'kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', layout.serverProperties, '--ignore-formatted']), {
      cwd: layout.stateDir,
      maxBuffer: 8 * 1024 * 1024,
    });
  } catch (error) {
    throw new Error(`could not format Kafka storage in ${layout.dataDir} (${describeExecError(error, 'java')})`, { cause: error });
  }
}

function spawnBroker(layout: KafkaLayout): { child: ChildProcess; pid: number } {
  const output = openSync(layout.consoleLog, 'a');
  try {
    const child = spawn(javaCommand(), javaArgs(layout, 'kafka.Kafka', [layout.serverProperties]), {
      cwd: layout.stateDir,
      // Own process group: Ctrl-C in the terminal that started it does not reach the broker; only
      // stopKafka (or infra:down) ends it, after the caller's own cleanup.
      detached: true,
      stdio: ['ignore', output, output],
    });
    // A spawn failure (no java on PATH) is also emitted as 'error'; the throw below reports it.
    child.once('error', () => undefined);
    if (child.pid === undefined) throw new Error(`could not start ${javaCommand()}; is Java 17+ installed?`);
    child.unref();
    return { child, pid: child.pid };
  } finally {
    closeSync(output);
  }
}

/** Byte sizes of the broker's log files, so a failure report shows only what one start wrote. */
type LogOffsets = Record<'server' | 'console', number>;

function logOffsets(layout: KafkaLayout): LogOffsets {
  const size = (file: string) => (existsSync(file) ? statSync(file).size : 0);
  return { server: size(layout.serverLog), console: size(layout.consoleLog) };
}

/**
 * The part of the logs that explains a failed start: the first ERROR/FATAL entries the broker
 * logged since `since` (with the exception line under each), or its last lines when there are
 * none, plus whatever the JVM printed to the console (class-path and JVM errors land there).
 */
function failureReport(layout: KafkaLayout, since: LogOffsets): string {
  const read = (file: string, offset: number) => (existsSync(file) ? readFileSync(file).subarray(offset).toString('utf8').trimEnd() : '');
  const serverLines = read(layout.serverLog, since.server).split('\n');
  const excerpt: string[] = [];
  serverLines.forEach((line, index) => {
    if (excerpt.length >= 9 || !/^\[[^\]]+\] (ERROR|FATAL) /.test(line)) return;
    excerpt.push(line);
    const detail = serverLines[index + 1];
    if (detail !== undefined && !detail.startsWith('[')) excerpt.push(`  ${detail.trim()}`);
  });
  const sections = [`--- ${excerpt.length > 0 ? 'errors in' : 'last lines of'} ${displayPath(layout.serverLog)} ---`, ...(excerpt.length > 0 ? excerpt : serverLines.slice(-15))];
  const consoleText = read(layout.consoleLog, since.console);
  if (consoleText) sections.push(`--- last lines of ${displayPath(layout.consoleLog)} ---`, ...consoleText.split('\n').slice(-15));
  return sections.join('\n');
}

function describeExecError(error: unknown, command: string): string {
  const failure = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
  if (failure.code === 'ENOENT') return `${command} was not found on PATH`;
  const output = `${failure.stdout ?? ''}\n${failure.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
  return output ? `${failure.message.split('\n')[0]}\n${output}` : failure.message;
}
