import { describe, expect, it } from 'vitest';
import { kafkaBrokersFromEnv } from './infrastructure.js';

describe('kafkaBrokersFromEnv', () => {
  it('reads the comma list in KAFKA_BROKERS', () => {
    expect(kafkaBrokersFromEnv({ KAFKA_BROKERS: 'k1:9092,k2:9092' })).toEqual(['k1:9092', 'k2:9092']);
  });

  it('treats an unset or blank KAFKA_BROKERS as "start the local broker"', () => {
    expect(kafkaBrokersFromEnv({})).toBeUndefined();
    expect(kafkaBrokersFromEnv({ KAFKA_BROKERS: ' , ' })).toBeUndefined();
  });
});
