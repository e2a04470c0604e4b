import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { workspaceRoot } from '@msr/infra';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const entrypoint = path.join(workspaceRoot, 'tools', 'docker', 'docker-entrypoint.sh');

describe('docker-entrypoint.sh', () => {
  let bin: string;

  beforeAll(async () => {
    bin = await mkdtemp(path.join(os.tmpdir(), 'msr-entrypoint-'));
  });

  afterAll(async () => {
    await rm(bin, { recursive: true, force: true });
  });

  /** Runs the entrypoint with `sh` (as the image does) and a `hostname` that prints `addresses`. */
  async function run(environment: Record<string, string>, addresses: string | undefined, command: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const fakeBin = await mkdtemp(path.join(bin, 'bin-'));
    if (addresses !== undefined) {
      await writeFile(path.join(fakeBin, 'hostname'), `#!/bin/sh\n[ "$1" = "-i" ] && echo "${addresses}"\n`);
      await chmod(path.join(fakeBin, 'hostname'), 0o755);
    }
    return new Promise((resolve) => {
      execFile('/bin/sh', [entrypoint, ...command], { env: { PATH: `${fakeBin}:/usr/bin:/bin`, ...environment } }, (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
      );
    });
  }

  const printAdvertiseHost = ['/bin/sh', '-c', 'echo "ADVERTISE_HOST=${ADVERTISE_HOST-unset} args=$*"', 'sh', 'node', 'main.js'];

  it('turns ADVERTISE_HOST=auto into the container’s own IPv4 address, then runs the command with its arguments', async () => {
    const result = await run({ ADVERTISE_HOST: 'auto' }, 'fd00::7 172.18.0.5 10.0.0.9', printAdvertiseHost);
    expect(result).toEqual({ code: 0, stdout: 'ADVERTISE_HOST=172.18.0.5 args=node main.js\n', stderr: '' });
  });

  it('skips loopback addresses', async () => {
    const result = await run({ ADVERTISE_HOST: 'auto' }, '127.0.1.1 192.168.5.4', printAdvertiseHost);
    expect(result.stdout).toBe('ADVERTISE_HOST=192.168.5.4 args=node main.js\n');
  });

  it('refuses to start when auto finds no usable address, instead of registering a wrong one', async () => {
    const result = await run({ ADVERTISE_HOST: 'auto' }, '127.0.0.1', printAdvertiseHost);
    expect(result.code).toBe(64);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('ADVERTISE_HOST=auto: no IPv4 address for this container (hostname -i printed: 127.0.0.1)');
  });

  it('passes any other value, or none, on unchanged without asking hostname', async () => {
    await expect(run({ ADVERTISE_HOST: 'payment-service' }, undefined, printAdvertiseHost)).resolves.toMatchObject({ code: 0, stdout: 'ADVERTISE_HOST=payment-service args=node main.js\n' });
    await expect(run({}, undefined, printAdvertiseHost)).resolves.toMatchObject({ code: 0, stdout: 'ADVERTISE_HOST=unset args=node main.js\n' });
  });

  it('hands over to the command (exec), so its exit code is the container’s', async () => {
    await expect(run({}, undefined, ['/bin/sh', '-c', 'exit 7'])).resolves.toMatchObject({ code: 7 });
  });
});
