import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The five apps, in start-up order: the registry first, the gateway last. */
export const appNames = ['registry', 'user-service', 'payment-service', 'order-service', 'gateway'] as const;

/** One of {@link appNames}. */
export type AppName = (typeof appNames)[number];

/** The services that register themselves and must be healthy before the system is up. */
const registeredApps: readonly AppName[] = ['user-service', 'payment-service', 'order-service', 'gateway'];

/** Where and how to start the system. */
export interface SystemOptions {
  /** Comma-separated broker list, e.g. `127.0.0.1:9092`. */
  kafkaBrokers: string;
  /** Database URL of each service; each service gets only its own. */
  databaseUrls: { users: string; orders: string; payments: string };
  registryPort: number;
  gatewayPort: number;
  /** Folder for each app's log file (`<app>.log`). */
  logDir: string;
  /** Extra environment for every app, e.g. `LOG_LEVEL`. */
  env?: Record<string, string>;
  /** Extra environment for one app, e.g. `{ gateway: { UPSTREAM_TIMEOUT_MS: '500' } }`. */
  appEnv?: Partial<Record<AppName, Record<string, string>>>;
  /** Instances per app (default 1); services on port 0 register each instance's own port. */
  instances?: Partial<Record<AppName, number>>;
  /** Time allowed for everything to be registered and healthy, in ms. */
  startTimeoutMs?: number;
}

/** A running app process. */
export interface AppProcess {
  name: AppName;
  /** 0 for the first instance of an app, 1 for the second, ... */
  index: number;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (or the signal name) when the process ends. */
  exited: Promise<number | string>;
}

/** The five apps as separate processes, with the addresses a client needs. */
export interface RunningSystem {
  gatewayUrl: string;
  registryUrl: string;
  /** The first instance of each app. */
  apps: ReadonlyMap<AppName, AppProcess>;
  /** Every instance of an app, by index. */
  instancesOf(name: AppName): readonly AppProcess[];
  /**
   * Signals one instance (SIGKILL by default: a crash) and resolves with its exit code or signal
   * once it is gone.
   */
  kill(name: AppName, index?: number, signal?: NodeJS.Signals): Promise<number | string>;
  /**
   * Starts an instance again with the same environment (the registry and gateway on their
   * ports, services on a fresh free port) and resolves once it is registered and healthy, or
   * for the registry once it answers `/health`. Rejects if the restarted process exits first;
   * other apps may crash or be killed meanwhile.
   */
  restart(name: AppName, index?: number): Promise<AppProcess>;
  /**
   * Sends SIGTERM to every app, gateway first and registry last, and waits for each to exit.
   * Resolves with each app's exit code (its first instance's); an app that does not exit within
   * 20 s is killed.
   */
  stop(): Promise<Record<AppName, number | string>>;
}

const workspaceRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Builds the five apps with Nx (cached when nothing changed); its output goes to the terminal. */
export function buildApps(): void {
  execFileSync('npx', ['nx', 'run-many', '-t', 'build', '-p', ...appNames, '--outputStyle=static'], {
    cwd: workspaceRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
  });
}

/** The built entry point of an app (`nx build <app>` writes it). */
export function appEntryPoint(name: AppName): string {
  return path.join(workspaceRoot, 'dist', 'apps', name, 'main.js');
}

function environmentFor(name: AppName, options: SystemOptions, registryUrl: string): Record<string, string> {
  const common: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    ADVERTISE_HOST: '127.0.0.1',
    REGISTRY_URL: registryUrl,
    KAFKA_BROKERS: options.kafkaBrokers,
    ...options.env,
    ...options.appEnv?.[name],
  };
  switch (name) {
    case 'registry':
      return { ...common, PORT: String(options.registryPort) };
    case 'gateway':
      return { ...common, PORT: String(options.gatewayPort) };
    case 'user-service':
      return { ...common, PORT: '0', DATABASE_URL: options.databaseUrls.users };
    case 'payment-service':
      return { ...common, PORT: '0', DATABASE_URL: options.databaseUrls.payments };
    case 'order-service':
      return { ...common, PORT: '0', DATABASE_URL: options.databaseUrls.orders };
  }
}

function startApp(name: AppName, index: number, env: Record<string, string>, logDir: string): AppProcess {
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, index === 0 ? `${name}.log` : `${name}-${index}.log`);
  // The app writes its log file itself: piping it through this process would cost this process
  // (often a test or bench that also drives the load) a read and a write per log line.
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['--enable-source-maps', appEntryPoint(name)], { env, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return { name, index, child, logFile, exited };
}

/** The last lines of an app's log, for error messages. */
export function logTail(app: AppProcess, lines = 20): string {
  try {
    return readFileSync(app.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function isUp(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

async function healthyInstances(registryUrl: string, service: string): Promise<Array<{ address: string; port: number }>> {
  try {
    const response = await fetch(`${registryUrl}/v1/services/${service}/discover?healthy=true`, { signal: AbortSignal.timeout(1_000) });
    return response.ok ? ((await response.json()) as Array<{ address: string; port: number }>) : [];
  } catch {
    return [];
  }
}

/**
 * Polls `condition` until it holds; fails with `describe()` when the deadline passes or a
 * started process exits first.
 */
async function waitUntil(condition: () => Promise<boolean>, deadline: number, watched: AppProcess[], what: string): Promise<void> {
  const exits = watched.map((app) => app.exited.then((code) => ({ app, code })));
  let failure: { app: AppProcess; code: number | string } | undefined;
  void Promise.race(exits).then((exit) => (failure = exit));
  while (!(await condition())) {
    if (failure) throw new Error(`${failure.app.name} exited (${failure.code}) while waiting for ${what}:\n${logTail(failure.app)}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Starts the registry, the three services and the gateway as separate processes from their
 * builds (several instances of an app where `instances` says so), and resolves once every
 * instance is registered, passes its health check and answers `GET /health` itself. On failure everything started is stopped and the error names the app
 * with the tail of its log.
 */
export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  const registryUrl = `http://127.0.0.1:${options.registryPort}`;
  const gatewayUrl = `http://127.0.0.1:${options.gatewayPort}`;
  const deadline = () => Date.now() + (options.startTimeoutMs ?? 90_000);
  const instances = new Map<AppName, AppProcess[]>(appNames.map((name) => [name, []]));
  const countOf = (name: AppName) => options.instances?.[name] ?? 1;
  const all = () => [...instances.values()].flat();
  const launch = (name: AppName, index: number) => {
    const app = startApp(name, index, environmentFor(name, options, registryUrl), options.logDir);
    (instances.get(name) as AppProcess[])[index] = app;
    return app;
  };
  const registryUp = (until: number, watched: AppProcess[]) => waitUntil(() => isUp(`${registryUrl}/health`), until, watched, 'the registry');
  // `watched`: the processes whose exit fails the wait. At start-up every app; on a restart only
  // the restarted one, as a chaos test may crash another app meanwhile.
  const healthy = (name: AppName, count: number, until: number, watched: AppProcess[]) =>
    waitUntil(
      async () => {
        const listed = await healthyInstances(registryUrl, name);
        const checks = await Promise.all(listed.map((i) => isUp(`http://${i.address}:${i.port}/health`)));
        return checks.filter(Boolean).length >= count;
      },
      until,
      watched,
      `${count} instance(s) of ${name} to be registered and healthy`,
    );

  const stopOne = async (app: AppProcess, signal: NodeJS.Signals): Promise<number | string> => {
    if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill(signal);
    const timer = setTimeout(() => app.child.kill('SIGKILL'), 20_000);
    const code = await app.exited;
    clearTimeout(timer);
    return code;
  };

  const stop = async (): Promise<Record<AppName, number | string>> => {
    const codes = {} as Record<AppName, number | string>;
    for (const name of [...appNames].reverse()) {
      const running = instances.get(name) ?? [];
      const exits = await Promise.all(running.map((app) => stopOne(app, 'SIGTERM')));
      if (exits.length > 0) codes[name] = exits[0] as number | string;
    }
    return codes;
  };

  const instanceAt = (name: AppName, index: number): AppProcess => {
    const app = instances.get(name)?.[index];
    if (!app) throw new Error(`no instance ${index} of ${name}`);
    return app;
  };

  try {
    await registryUp(deadline(), [launch('registry', 0)]);
    for (const name of registeredApps) {
      for (let index = 0; index < countOf(name); index += 1) launch(name, index);
    }
    const until = deadline();
    for (const name of registeredApps) await healthy(name, countOf(name), until, all());
    return {
      gatewayUrl,
      registryUrl,
      apps: new Map(appNames.map((name) => [name, instanceAt(name, 0)])),
      instancesOf: (name) => [...(instances.get(name) ?? [])],
      kill: (name, index = 0, signal = 'SIGKILL') => stopOne(instanceAt(name, index), signal),
      restart: async (name, index = 0) => {
        const previous = instanceAt(name, index);
        if (previous.child.exitCode === null && previous.child.signalCode === null) throw new Error(`${name} #${index} is still running`);
        const app = launch(name, index);
        if (name === 'registry') await registryUp(deadline(), [app]);
        else {
          const running = (instances.get(name) ?? []).filter((i) => i.child.exitCode === null && i.child.signalCode === null);
          await healthy(name, running.length, deadline(), [app]);
        }
        return app;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
