import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { commonServiceEnv, ConfigError, env, loadConfig } from './config.js';

const schema = commonServiceEnv.extend({
  PORT: env.port(3001),
  KAFKA_BROKERS: env.list('127.0.0.1:9092'),
  DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/users'),
  FEATURE: env.bool(false),
});

describe('loadConfig', () => {
  it('applies defaults and coerces strings', () => {
    const config = loadConfig(schema, { PORT: '0', KAFKA_BROKERS: 'a:1, b:2', FEATURE: '1' });
    expect(config.PORT).toBe(0);
    expect(config.KAFKA_BROKERS).toEqual(['a:1', 'b:2']);
    expect(config.FEATURE).toBe(true);
    expect(config.REGISTRY_URL).toBe('http://127.0.0.1:8500');
  });

  it('names every bad variable in one error', () => {
    const attempt = () => loadConfig(schema, { PORT: '70000', DATABASE_URL: 'not a url', LOG_LEVEL: 'loud' });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const message = (error as ConfigError).message;
      expect(message).toMatch(/PORT/);
      expect(message).toMatch(/DATABASE_URL/);
      expect(message).toMatch(/LOG_LEVEL/);
    }
  });

  it('returns a frozen object', () => {
    const config = loadConfig(z.object({ A: z.string().default('x') }), {});
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('rejects an empty broker list', () => {
    expect(() => loadConfig(schema, { KAFKA_BROKERS: ' , ' })).toThrow(/KAFKA_BROKERS/);
  });
});
