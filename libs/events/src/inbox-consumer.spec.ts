import pg from 'pg';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@msr/service-defaults';
import { InboxConsumer } from './inbox-consumer.js';
import { createKafkaBus } from './kafka/kafka-bus.js';

// Neither the bus nor the pool connects before start(): these tests touch no server.
const logger = createLogger({ service: 'events-test', level: 'silent' });
const bus = createKafkaBus({ clientId: 'events-test', brokers: ['127.0.0.1:1'], logger });
const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });

function consumer(groupId: string, metricsRegistry?: Registry): InboxConsumer {
  return new InboxConsumer({ bus, pool, groupId, topics: ['user.events'], logger, ...(metricsRegistry ? { metricsRegistry } : {}) });
}

describe('InboxConsumer', () => {
  it('refuses a second handler for the same message type', () => {
    const inbox = consumer('g1').on('user.created', async () => undefined);

    expect(() => inbox.on('user.created', async () => undefined)).toThrow(/already has a handler/);
  });

  it('lets several consumers of one process share the inbox_messages_total metric', async () => {
    const registry = new Registry();

    consumer('g1', registry);
    consumer('g2', registry);

    expect((await registry.getMetricsAsJSON()).filter((metric) => metric.name === 'inbox_messages_total')).toHaveLength(1);
  });
});
