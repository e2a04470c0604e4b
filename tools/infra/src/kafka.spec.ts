import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kafkaLayout } from './kafka-config.js';
import { processCommandLine, stopKafka } from './kafka.js';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('stopKafka ownership check', () => {
  let stateDir: string;
  let bystander: ChildProcess | undefined;

  beforeEach(async () => {
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'msr-infra-stop-'));
  });

  afterEach(async () => {
    bystander?.kill('SIGKILL');
    bystander = undefined;
    await rm(stateDir, { recursive: true, force: true });
  });

  it('does nothing when no broker was started (no pid file)', async () => {
    await expect(stopKafka({ stateDir })).resolves.toEqual({ outcome: 'not-started' });
  });

  it('never signals a process that is not our broker, and drops the stale pid file', async () => {
    bystander = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const pid = bystander.pid!;
    const { pidFile } = kafkaLayout({ stateDir });
    await writeFile(pidFile, `${pid}\n`);

    await expect(stopKafka({ stateDir })).resolves.toEqual({ outcome: 'stale-pid-file', pid });

    expect(isRunning(pid)).toBe(true);
    expect(bystander.exitCode).toBeNull();
    expect(existsSync(pidFile)).toBe(false);
  });

  it('treats a pid file with garbage as stale', async () => {
    const { pidFile } = kafkaLayout({ stateDir });
    await writeFile(pidFile, 'not a pid\n');
    await expect(stopKafka({ stateDir })).resolves.toMatchObject({ outcome: 'stale-pid-file' });
    expect(existsSync(pidFile)).toBe(false);
  });
});

describe('processCommandLine', () => {
  it('reads the arguments of a running process', () => {
    expect(processCommandLine(process.pid)?.[0]).toContain('node');
  });

  it('returns undefined for a pid with no process', () => {
    expect(processCommandLine(2 ** 31 - 2)).toBeUndefined();
  });
});
