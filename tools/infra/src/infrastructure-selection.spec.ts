import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeDockerEngine, type ComposeCli, type DockerProbeResult } from './docker-engine.js';
import { chooseInfrastructure, infrastructureMode } from './infrastructure-selection.js';

const engine: DockerProbeResult = { available: true, endpoint: { uri: 'unix:///var/run/docker.sock', source: 'default socket' } };
const noEngine: DockerProbeResult = { available: false, reason: 'no Docker engine socket or DOCKER_HOST found' };
const composeV2: ComposeCli = { kind: 'plugin', version: '2.29.1' };

/** A probe that fails the test when called: the branch under test must not ask Docker. */
const mustNotProbe = async (): Promise<never> => {
  throw new Error('the Docker engine was probed');
};

describe('chooseInfrastructure', () => {
  it('1. uses the addresses given in the environment and never asks Docker', async () => {
    const choice = await chooseInfrastructure({
      env: { PG_ADMIN_URL: 'postgres://postgres:secret@db:5432/postgres', KAFKA_BROKERS: 'k1:9092,k2:9092' },
      probeDocker: mustNotProbe,
      detectCompose: mustNotProbe,
    });
    expect(choice).toEqual({
      postgres: 'environment',
      kafka: 'environment',
      summary: 'postgres from PG_ADMIN_URL (postgres://postgres:***@db:5432/postgres); kafka from KAFKA_BROKERS (k1:9092,k2:9092)',
    });
  });

  it('2. starts the compose services through testcontainers when a Docker engine answers and Compose v2 is there', async () => {
    const choice = await chooseInfrastructure({ env: {}, probeDocker: async () => engine, detectCompose: async () => composeV2 });
    expect(choice).toMatchObject({ postgres: 'docker', kafka: 'docker', docker: { endpoint: engine.endpoint, compose: composeV2 } });
    expect(choice.summary).toBe(
      'postgres and kafka from docker-compose.yml through testcontainers (Docker engine at unix:///var/run/docker.sock via default socket, Compose 2.29.1 plugin)',
    );
  });

  it('2. starts only what the environment does not give', async () => {
    const choice = await chooseInfrastructure({ env: { KAFKA_BROKERS: '10.1.1.1:9092' }, probeDocker: async () => engine, detectCompose: async () => composeV2 });
    expect(choice).toMatchObject({ postgres: 'docker', kafka: 'environment' });
    expect(choice.summary).toMatch(/^kafka from KAFKA_BROKERS \(10\.1\.1\.1:9092\); postgres from docker-compose\.yml through testcontainers/);
  });

  it('3. takes the local path when there is no Docker engine, and says why', async () => {
    const choice = await chooseInfrastructure({ env: {}, probeDocker: async () => noEngine, detectCompose: mustNotProbe });
    expect(choice).toEqual({ postgres: 'local', kafka: 'local', summary: 'postgres and kafka local (no working Docker engine: no Docker engine socket or DOCKER_HOST found)' });
  });

  it('3. takes the local path when the engine answers but Compose v2 is missing', async () => {
    const choice = await chooseInfrastructure({ env: {}, probeDocker: async () => engine, detectCompose: async () => 'docker-compose version --short: version 1.29.2 is not Compose v2' });
    expect(choice).toMatchObject({ postgres: 'local', kafka: 'local' });
    expect(choice.summary).toContain('answers, but Compose v2 is missing: docker-compose version --short: version 1.29.2 is not Compose v2');
  });

  it('3. MSR_INFRA=local and callers that cannot keep containers skip the probe', async () => {
    await expect(chooseInfrastructure({ env: { MSR_INFRA: 'local' }, probeDocker: mustNotProbe })).resolves.toMatchObject({ postgres: 'local', kafka: 'local' });
    const forInfraUp = await chooseInfrastructure({ env: { PG_ADMIN_URL: 'postgres://postgres@127.0.0.1:5432/postgres' }, allowDocker: false, probeDocker: mustNotProbe });
    expect(forInfraUp).toMatchObject({ postgres: 'environment', kafka: 'local' });
  });

  it('MSR_INFRA=docker refuses to fall back, and unknown modes are refused', async () => {
    await expect(chooseInfrastructure({ env: { MSR_INFRA: 'docker' }, probeDocker: async () => noEngine })).rejects.toThrow(
      'MSR_INFRA=docker, but no working Docker engine: no Docker engine socket or DOCKER_HOST found',
    );
    await expect(chooseInfrastructure({ env: { MSR_INFRA: 'podman' } })).rejects.toThrow('MSR_INFRA must be auto, docker or local, not "podman"');
    expect(infrastructureMode({})).toBe('auto');
    expect(infrastructureMode({ MSR_INFRA: ' docker ' })).toBe('docker');
  });

  describe('with a Docker engine that is present but not answering', () => {
    let dir: string;
    let socketPath: string;
    const server = net.createServer((socket) => connections.push(socket));
    const connections: net.Socket[] = [];

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'msr-hung-engine-'));
      socketPath = path.join(dir, 'docker.sock');
      await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    });

    afterAll(async () => {
      connections.forEach((socket) => socket.destroy());
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    });

    it('3. decides on the local path within the probe timeout', async () => {
      const started = Date.now();
      const choice = await chooseInfrastructure({
        env: {},
        probeDocker: () =>
          probeDockerEngine({ lookup: { env: { DOCKER_HOST: `unix://${socketPath}` }, homeDir: dir, uid: 0, exists: (file) => file === socketPath, readFile: () => undefined }, timeoutMs: 500 }),
        detectCompose: mustNotProbe,
      });
      expect(choice).toMatchObject({ postgres: 'local', kafka: 'local' });
      expect(choice.summary).toBe(`postgres and kafka local (no working Docker engine: unix://${socketPath} (DOCKER_HOST): did not answer /_ping within 500 ms)`);
      expect(Date.now() - started).toBeLessThan(2_000);
    });
  });
});
