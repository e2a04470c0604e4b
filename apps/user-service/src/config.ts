import { commonServiceEnv, env } from '@msr/service-defaults';
import type { z } from 'zod';

/**
 * The user-service's environment (STYLE.md rule 5): parsed once in `main.ts` with `loadConfig`;
 * a bad value stops start-up with a message naming the variable.
 *
 * - `PORT` (default 3001; 0 picks a free port, which is then registered)
 * - `DATABASE_URL`: its own database only (default `postgres://postgres@127.0.0.1:5432/users`)
 * - `KAFKA_BROKERS`: comma-separated `host:port` list (default `127.0.0.1:9092`)
 * - plus `commonServiceEnv`: HOST, ADVERTISE_HOST, LOG_LEVEL, REGISTRY_URL, REGISTRY_TTL_MS,
 *   SHUTDOWN_TIMEOUT_MS
 */
export const configSchema = commonServiceEnv.extend({
  PORT: env.port(3001),
  DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/users'),
  KAFKA_BROKERS: env.list('127.0.0.1:9092'),
});

/** The parsed configuration of the user-service. */
export type Config = z.infer<typeof configSchema>;
