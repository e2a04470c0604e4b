import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComposeInfrastructure, ComposeStartOptions } from './compose-infrastructure.js';
import { freePort } from './compose-infrastructure.js';
import type { DockerProbeResult } from './docker-engine.js';
import { bringUpInfrastructure } from './infrastructure.js';
import { parseBrokerList } from './kafka-config.js';
import { adminUrlFromEnv, databaseUrl } from './postgres.js';

// bringUpInfrastructure on each of its paths, against the real PostgreSQL and Kafka of this run
// (whichever path `npm test` itself took). The Docker path's container start is replaced by one
// that hands back those same servers: no engine is needed to check what is done with them.

const pgAdminUrl = adminUrlFromEnv();
const kafkaBrokers = parseBrokerList(process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092');
const engine: DockerProbeResult = { available: true, endpoint: { uri: 'unix:///var/run/docker.sock', source: 'default socket' } };
const mustNotProbe = async (): Promise<never> => {
  throw new Error('the Docker engine was probed');
};

/** A container start that records its options and "starts" the servers of this run. */
function fakeCompose(overrides: Partial<ComposeInfrastructure> = {}) {
  const calls: ComposeStartOptions[] = [];
  let downs = 0;
  const start = async (options: ComposeStartOptions): Promise<ComposeInfrastructure> => {
    calls.push(options);
    return {
      ...(options.postgres
        ? { pgAdminUrl, serviceDatabaseUrls: { users: databaseUrl(pgAdminUrl, 'users'), orders: databaseUrl(pgAdminUrl, 'orders'), payments: databaseUrl(pgAdminUrl, 'payments') } }
        : {}),
      ...(options.kafka ? { kafkaBrokers } : {}),
      down: async () => {
        downs += 1;
      },
      ...overrides,
    };
  };
  return { start, calls, downs: () => downs };
}

describe('bringUpInfrastructure', () => {
  let stateDir: string;

  beforeAll(async () => {
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'msr-infra-choice-'));
  });

  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  it('1. uses the addresses in the environment, starts nothing and logs the choice first', async () => {
    const lines: string[] = [];
    const infra = await bringUpInfrastructure({ env: { PG_ADMIN_URL: pgAdminUrl, KAFKA_BROKERS: kafkaBrokers.join(',') }, log: (line) => lines.push(line), probeDocker: mustNotProbe });
    expect(infra).toMatchObject({ sources: { postgres: 'environment', kafka: 'environment' }, pgAdminUrl, kafkaBrokers, kafka: 'external' });
    expect(infra.serviceDatabaseUrls).toEqual({ users: databaseUrl(pgAdminUrl, 'users'), orders: databaseUrl(pgAdminUrl, 'orders'), payments: databaseUrl(pgAdminUrl, 'payments') });
    expect(lines[0]).toMatch(/^infrastructure: postgres from PG_ADMIN_URL \(.+\); kafka from KAFKA_BROKERS \(.+\)$/);
    await infra.release();
  });

  it('2. starts the compose services when Docker answers, and takes them down once on release', async () => {
    const compose = fakeCompose();
    const lines: string[] = [];
    const infra = await bringUpInfrastructure({
      env: {},
      log: (line) => lines.push(line),
      probeDocker: async () => engine,
      detectCompose: async () => ({ kind: 'plugin', version: '2.29.1' }),
      startCompose: compose.start,
    });
    expect(compose.calls).toEqual([{ postgres: true, kafka: true, endpoint: engine.endpoint, compose: { kind: 'plugin', version: '2.29.1' }, log: expect.any(Function) }]);
    expect(infra).toMatchObject({ sources: { postgres: 'docker', kafka: 'docker' }, pgAdminUrl, kafkaBrokers, kafka: 'container' });
    expect(lines[0]).toMatch(/^infrastructure: postgres and kafka from docker-compose\.yml through testcontainers/);
    await infra.release();
    await infra.release();
    expect(compose.downs()).toBe(1);
  });

  it('2. starts in containers only what the environment does not give', async () => {
    const compose = fakeCompose();
    const infra = await bringUpInfrastructure({ env: { PG_ADMIN_URL: pgAdminUrl }, probeDocker: async () => engine, detectCompose: async () => ({ kind: 'plugin', version: '2.29.1' }), startCompose: compose.start });
    expect(compose.calls.map(({ postgres, kafka }) => ({ postgres, kafka }))).toEqual([{ postgres: false, kafka: true }]);
    expect(infra.sources).toEqual({ postgres: 'environment', kafka: 'docker' });
    await infra.release();
    expect(compose.downs()).toBe(1);
  });

  it('2. takes the containers down again when what they offer does not answer', async () => {
    const compose = fakeCompose({ pgAdminUrl: `postgres://postgres@127.0.0.1:${await freePort()}/users` });
    await expect(
      bringUpInfrastructure({ env: {}, waitTimeoutMs: 500, probeDocker: async () => engine, detectCompose: async () => ({ kind: 'plugin', version: '2.29.1' }), startCompose: compose.start }),
    ).rejects.toThrow(/timed out after 500 ms waiting for PostgreSQL/);
    expect(compose.downs()).toBe(1);
  });

  it('3. takes the local path without a Docker engine, leaving a broker that already answers alone', async () => {
    const [host, port] = (kafkaBrokers[0] ?? '').split(':') as [string, string];
    const lines: string[] = [];
    const infra = await bringUpInfrastructure({
      env: { PG_ADMIN_URL: pgAdminUrl },
      log: (line) => lines.push(line),
      kafka: { host, port: Number(port), stateDir },
      probeDocker: async () => ({ available: false, reason: `unix:///var/run/docker.sock (default socket): did not answer /_ping within 1000 ms` }),
      startCompose: () => Promise.reject(new Error('containers were started')),
    });
    expect(infra).toMatchObject({ sources: { postgres: 'environment', kafka: 'local' }, kafka: 'already-running', kafkaBrokers: [`${host}:${port}`] });
    expect(lines[0]).toMatch(/; kafka local \(no working Docker engine: unix:\/\/\/var\/run\/docker\.sock \(default socket\): did not answer \/_ping within 1000 ms\)$/);
    await infra.release();
  });
});
