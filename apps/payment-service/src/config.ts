import { commonServiceEnv, env } from '@msr/service-defaults';
import type { z } from 'zod';

/**
 * payment-service's environment (STYLE.md rule 5): parsed once in `main.ts` with `loadConfig`;
 * a bad value stops start-up with a message naming the variable.
 */
export const configSchema = commonServiceEnv.extend({
  /** `0` picks a free port; the real one is registered. */
  PORT: env.port(3003),
  /** payment-service's own database (database per service). */
  DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/payments'),
  /** Connections to it at most. */
  DATABASE_POOL_SIZE: env.positiveInt(10),
  /** Comma-separated `host:port` list. */
  KAFKA_BROKERS: env.list('127.0.0.1:9092'),
  /** Balance every new account starts with, in cents (default 500.00 USD). */
  STARTING_BALANCE_CENTS: env.nonNegativeInt(50_000),
  /**
   * Consumer group membership, in ms: a crashed instance's partitions move to another member (or
   * to its own restart) once its session times out; kafkajs heartbeats every interval.
   */
  KAFKA_SESSION_TIMEOUT_MS: env.positiveInt(6_000),
  KAFKA_HEARTBEAT_INTERVAL_MS: env.positiveInt(1_000),
});

/** The parsed, frozen configuration of payment-service. */
export type Config = z.infer<typeof configSchema>;
