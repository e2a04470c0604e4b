import { Kafka, logLevel } from 'kafkajs';

/** Test support: the broker of the integration tests, from `KAFKA_BROKERS` (comma list). */
export const testBrokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');

/**
 * Test support: polls `probe` every 50 ms until it returns a truthy value, and returns it.
 *
 * @throws {Error} naming `what` when `timeoutMs` passes first.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Test support: deletes the topics and consumer groups a test file created (those that exist), so
 * the shared broker does not fill up.
 */
export async function deleteKafkaTestResources(options: { topics: string[]; groups?: string[] }): Promise<void> {
  const admin = new Kafka({ clientId: 'events-test-cleanup', brokers: testBrokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    if (options.groups?.length) await admin.deleteGroups(options.groups);
    const existing = new Set(await admin.listTopics());
    const topics = options.topics.filter((topic) => existing.has(topic));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}
