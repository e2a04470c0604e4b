// `npm test`: lint, type checks and every test of the workspace against real PostgreSQL and Kafka.
//
// Brings the infrastructure up itself when no addresses are given (PostgreSQL must be running;
// the service databases are created and a local Kafka broker is started unless `KAFKA_BROKERS`
// names one), runs `nx run-many -t lint typecheck test`, then the `e2e` project when there is one,
// then the `chaos` suite (its own Kafka broker, restarted mid-run; services killed -9),
// and finally stops the broker if this run started it, also after a failure or Ctrl-C.
// Exits with the first failing exit code (130/143 when interrupted).
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { bringUpInfrastructure, redactUrl, workspaceRoot, type Infrastructure } from '@msr/infra';
import { TestTally } from './test-tally.js';

interface StepResult {
  name: string;
  exitCode: number;
  durationMs: number;
}

const startedAt = Date.now();
const results: StepResult[] = [];
let current: ChildProcess | undefined;
let interrupted: NodeJS.Signals | undefined;

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) {
      console.log(`\n${signal}: still cleaning up (stopping the Kafka broker this run started)...`);
      return;
    }
    interrupted = signal;
    console.log(`\n${signal}: stopping the running step, then cleaning up...`);
    // The terminal already signalled the child (same process group); a targeted kill did not.
    current?.kill(signal);
  });
}

function heading(title: string): void {
  console.log(`\n==> ${title}`);
}

function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`;
}

const tally = new TestTally();

/**
 * Runs a command; its output goes to the terminal and is scanned for Vitest's summary lines.
 * Resolves with its exit code (128+n when killed by signal n) and, when `capture`, its output.
 */
function run(command: string, args: string[], env: NodeJS.ProcessEnv, capture = false): Promise<{ exitCode: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: workspaceRoot, env, stdio: ['inherit', 'pipe', 'inherit'] });
    current = child;
    let stdout = '';
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      if (capture) {
        stdout += text;
        return;
      }
      process.stdout.write(text);
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      lines.forEach((line) => tally.add(line));
    });
    child.once('error', (error) => {
      console.error(`could not run ${command}: ${error.message}`);
      current = undefined;
      resolve({ exitCode: 127, stdout });
    });
    child.once('close', (code, signal) => {
      tally.add(partial);
      current = undefined;
      resolve({ exitCode: code ?? 128 + (signal ? constants.signals[signal] : 1), stdout });
    });
  });
}

async function step(name: string, command: string[], env: NodeJS.ProcessEnv): Promise<void> {
  if (interrupted) return;
  heading(`${name} (${command.join(' ')})`);
  const began = Date.now();
  const [executable, ...args] = command as [string, ...string[]];
  const { exitCode } = await run(executable, args, env);
  results.push({ name, exitCode, durationMs: Date.now() - began });
}

async function main(): Promise<number> {
  let infra: Infrastructure | undefined;
  try {
    heading('infrastructure');
    const began = Date.now();
    try {
      infra = await bringUpInfrastructure({ log: (line) => console.log(line) });
      results.push({ name: 'infrastructure', exitCode: 0, durationMs: Date.now() - began });
    } catch (error) {
      console.error(`infrastructure is not available: ${(error as Error).message}`);
      results.push({ name: 'infrastructure', exitCode: 1, durationMs: Date.now() - began });
      return 1;
    }

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NX_DAEMON: 'false',
      NX_NO_CLOUD: 'true',
      KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      PG_ADMIN_URL: infra.pgAdminUrl,
    };
    console.log(`tests use KAFKA_BROKERS=${env['KAFKA_BROKERS']} PG_ADMIN_URL=${redactUrl(infra.pgAdminUrl)}`);

    await step('lint, typecheck, test', ['npx', 'nx', 'run-many', '-t', 'lint', 'typecheck', 'test', '--outputStyle=static'], env);

    if (!interrupted) {
      const projects = await run('npx', ['nx', 'show', 'projects'], env, true);
      const names = projects.stdout.split('\n').map((line) => line.trim());
      if (projects.exitCode !== 0) results.push({ name: 'list projects (nx show projects)', exitCode: projects.exitCode, durationMs: 0 });
      else if (names.includes('e2e')) await step('e2e', ['npx', 'nx', 'run', 'e2e:e2e', '--outputStyle=static'], env);
      else console.log('\n(no e2e project; skipping end-to-end tests)');
      if (names.includes('chaos')) await step('chaos', ['npx', 'nx', 'run', 'chaos:chaos', '--outputStyle=static'], env);
    }
    return results.find((result) => result.exitCode !== 0)?.exitCode ?? 0;
  } finally {
    // Stops only what this run started: the local broker, or the containers of the Docker path.
    if (infra && (infra.kafka === 'started' || infra.kafka === 'container' || infra.sources.postgres === 'docker')) {
      heading('cleanup');
      await infra.release().catch((error: unknown) => console.error(`could not release the infrastructure: ${(error as Error).message}`));
    }
  }
}

const exitCode = await main();
heading('summary');
for (const result of results) {
  const status = result.exitCode === 0 ? 'ok    ' : 'FAILED';
  const name = result.exitCode === 0 ? result.name : `${result.name} (exit ${result.exitCode})`;
  console.log(`  ${status}  ${name.padEnd(40)} ${formatDuration(result.durationMs)}`);
}
if (interrupted) console.log(`  interrupted by ${interrupted}`);
console.log(`total wall time: ${formatDuration(Date.now() - startedAt)}`);
console.log(tally.summary());
process.exit(interrupted ? (interrupted === 'SIGINT' ? 130 : 143) : exitCode);
