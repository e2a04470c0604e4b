import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaLayout, type KafkaOptions } from './kafka-config.js';
import { ensureKafkaJars, probeKafka, processCommandLine, startKafka, stopKafka } from './kafka.js';
import { bringUpInfrastructure } from './infrastructure.js';

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ensureKafkaJars', () => {
  let libsDir: string;

  beforeAll(async () => {
    libsDir = await mkdtemp(path.join(os.tmpdir(), 'msr-kafka-libs-'));
  });

  afterAll(async () => {
    await rm(libsDir, { recursive: true, force: true });
  });

  it('redoes a download that never finished, then skips Maven while the jars stay resolved', async () => {
    // A folder without the marker is what an interrupted `mvn` leaves behind.
    await writeFile(path.join(libsDir, 'half-written.jar'), '');

    await expect(ensureKafkaJars({ libsDir })).resolves.toEqual({ libsDir, downloaded: true });
    expect(existsSync(path.join(libsDir, 'kafka_2.13-3.9.1.jar'))).toBe(true);
    expect(existsSync(path.join(libsDir, 'half-written.jar'))).toBe(false);

    await expect(ensureKafkaJars({ libsDir })).resolves.toEqual({ libsDir, downloaded: false });
  }, 120_000);
});

describe('local Kafka broker (KRaft, from the Maven Central jars)', () => {
  let options: KafkaOptions;
  let brokers: string[];
  let startedPid: number | undefined;

  beforeAll(async () => {
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'msr-kafka-'));
    // Spare ports and a private data dir: the development broker on 9092 is never touched.
    options = { port: await unusedPort(), controllerPort: await unusedPort(), stateDir, startTimeoutMs: 50_000 };
    brokers = [`127.0.0.1:${options.port}`];
    await ensureKafkaJars();
  }, 120_000);

  afterAll(async () => {
    await stopKafka(options);
    await rm(options.stateDir!, { recursive: true, force: true });
  });

  it('starts a broker that answers metadata requests and records its pid', async () => {
    const result = await startKafka(options);

    expect(result).toMatchObject({ brokers, startedByUs: true });
    startedPid = result.pid;
    expect(Number((await readFile(kafkaLayout(options).pidFile, 'utf8')).trim())).toBe(startedPid);
    expect(processCommandLine(startedPid!)).toContain('kafka.Kafka');
    await expect(probeKafka(brokers)).resolves.toBe(true);
    expect(existsSync(kafkaLayout(options).serverLog)).toBe(true);
  }, 60_000);

  it('treats a second start as a no-op while the broker answers', async () => {
    await expect(startKafka(options)).resolves.toMatchObject({ brokers, startedByUs: false, pid: startedPid });
  });

  it('does not stop a broker that bringUpInfrastructure found already running', async () => {
    const infra = await bringUpInfrastructure({ env: { PG_ADMIN_URL: process.env['PG_ADMIN_URL'], MSR_INFRA: 'local' }, kafka: options });
    expect(infra.kafka).toBe('already-running');

    await infra.release();

    expect(isRunning(startedPid!)).toBe(true);
    await expect(probeKafka(brokers)).resolves.toBe(true);
  });

  it('carries a produced message to a consumer', async () => {
    // A fresh broker creates __consumer_offsets on the first group join; kafkajs logs the retried
    // "group coordinator is not available" answers as errors, which are noise here.
    const kafka = new Kafka({ clientId: 'infra-integration-test', brokers, logLevel: logLevel.NOTHING });
    const topic = `infra-test-${randomBytes(4).toString('hex')}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const consumer = kafka.consumer({ groupId: `infra-test-${randomBytes(4).toString('hex')}` });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = new Promise<string>((resolve) => {
        void consumer.run({ eachMessage: async ({ message }) => resolve(message.value?.toString() ?? '') });
      });
      await producer.connect();
      await producer.send({ topic, messages: [{ key: 'k', value: 'hello broker' }] });

      await expect(received).resolves.toBe('hello broker');
    } finally {
      await producer.disconnect();
      await consumer.disconnect();
    }
  }, 30_000);

  it('stops the broker it started and leaves no process or pid file behind', async () => {
    await expect(stopKafka(options)).resolves.toMatchObject({ outcome: 'stopped', pid: startedPid });

    // A zombie awaiting reaping has an empty command line, so this holds once the broker is gone.
    expect(processCommandLine(startedPid!) ?? []).not.toContain('kafka.Kafka');
    expect(existsSync(kafkaLayout(options).pidFile)).toBe(false);
    await expect(probeKafka(brokers)).resolves.toBe(false);
  }, 40_000);
});
