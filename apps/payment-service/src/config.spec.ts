import { ConfigError, loadConfig } from '@msr/service-defaults';
import { describe, expect, it } from 'vitest';
import { configSchema } from './config.js';

describe('payment-service config', () => {
  it('defaults to port 3003, the payments database and a 500.00 starting balance', () => {
    const config = loadConfig(configSchema, {});
    expect(config.PORT).toBe(3003);
    expect(config.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/payments');
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(config.STARTING_BALANCE_CENTS).toBe(50_000);
  });

  it('reads the starting balance and brokers from the environment', () => {
    const config = loadConfig(configSchema, { STARTING_BALANCE_CENTS: '1234', KAFKA_BROKERS: 'a:9092, b:9092' });
    expect(config.STARTING_BALANCE_CENTS).toBe(1_234);
    expect(config.KAFKA_BROKERS).toEqual(['a:9092', 'b:9092']);
  });

  it('names the variable when the starting balance is not whole non-negative cents', () => {
    expect(() => loadConfig(configSchema, { STARTING_BALANCE_CENTS: '-5' })).toThrow(ConfigError);
    expect(() => loadConfig(configSchema, { STARTING_BALANCE_CENTS: '12.5' })).toThrow(/STARTING_BALANCE_CENTS/);
  });
});
