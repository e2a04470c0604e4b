import { loadBalancingStrategies } from '@msr/discovery';
import { commonServiceEnv, env } from '@msr/service-defaults';
import { z } from 'zod';

/**
 * The order-service's environment (STYLE.md rule 5): parsed once in `main.ts` with `loadConfig`;
 * a bad value stops start-up with a message naming the variable.
 *
 * - `PORT` (default 3002; 0 picks a free port, which is then registered)
 * - `DATABASE_URL`: its own database only (default `postgres://postgres@127.0.0.1:5432/orders`)
 * - `DATABASE_POOL_SIZE`: connections to it at most (default 10)
 * - `KAFKA_BROKERS`: comma-separated `host:port` list (default `127.0.0.1:9092`)
 * - `USER_SERVICE_NAME`: the name user-service registers under (default `user-service`)
 * - `LOAD_BALANCING`: `round_robin` (default), `random`, `weighted` or `least_outstanding`
 * - `USER_SERVICE_TIMEOUT_MS`: one HTTP attempt to user-service (breaker timeout), default 2000
 * - `VERIFY_USER_TIMEOUT_MS`: one verify-user attempt, HTTP retries included, default 5000
 * - `SAGA_STEP_MAX_ATTEMPTS`, `SAGA_RETRY_BASE_MS`, `SAGA_RETRY_MAX_MS`: every step's retry
 *   policy (defaults 3, 200 ms, 2000 ms; exponential backoff with full jitter)
 * - `PAYMENT_REPLY_TIMEOUT_MS`: how long authorize-payment waits for its reply before the saga
 *   compensates (refunding, in case the payment went through); 0 waits without deadline; default 30000
 * - `SAGA_DEADLINE_MS`: an order not decided this long after it was placed is rejected
 *   (`SAGA.DEADLINE_EXCEEDED`, compensating what was done); 0 = no deadline; default 120000
 * - `SAGA_RECOVERY_INTERVAL_MS`: how often due sagas are resumed (default 1000)
 * - `SAGA_RECOVERY_GRACE_MS`: how overdue a saga must be before periodic recovery takes it
 *   (default 1000; at start-up every due saga is taken)
 * - `SAGA_LEASE_MS`: how long an instance's lease on a saga it drives lasts (renewed while it
 *   runs); another instance takes over a crashed one's sagas once it expires (default 5000)
 * - `SAGA_STUCK_AFTER_MS`: a saga unchanged this long counts in `saga_stuck` (default 60000)
 * - `KAFKA_SESSION_TIMEOUT_MS`, `KAFKA_HEARTBEAT_INTERVAL_MS`: consumer group membership; a
 *   crashed instance's partitions move on after the session timeout (defaults 6000 and 1000)
 * - plus `commonServiceEnv`: HOST, ADVERTISE_HOST, LOG_LEVEL, REGISTRY_URL, REGISTRY_TTL_MS,
 *   SHUTDOWN_TIMEOUT_MS
 */
export const configSchema = commonServiceEnv.extend({
  PORT: env.port(3002),
  DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/orders'),
  DATABASE_POOL_SIZE: env.positiveInt(10),
  KAFKA_BROKERS: env.list('127.0.0.1:9092'),
  USER_SERVICE_NAME: z.string().min(1).default('user-service'),
  LOAD_BALANCING: z.enum(loadBalancingStrategies).default('round_robin'),
  USER_SERVICE_TIMEOUT_MS: env.positiveInt(2_000),
  VERIFY_USER_TIMEOUT_MS: env.positiveInt(5_000),
  SAGA_STEP_MAX_ATTEMPTS: env.positiveInt(3),
  SAGA_RETRY_BASE_MS: env.positiveInt(200),
  SAGA_RETRY_MAX_MS: env.positiveInt(2_000),
  PAYMENT_REPLY_TIMEOUT_MS: env.nonNegativeInt(30_000),
  SAGA_DEADLINE_MS: env.nonNegativeInt(120_000),
  SAGA_RECOVERY_INTERVAL_MS: env.positiveInt(1_000),
  SAGA_RECOVERY_GRACE_MS: env.nonNegativeInt(1_000),
  SAGA_LEASE_MS: env.positiveInt(5_000),
  SAGA_STUCK_AFTER_MS: env.positiveInt(60_000),
  KAFKA_SESSION_TIMEOUT_MS: env.positiveInt(6_000),
  KAFKA_HEARTBEAT_INTERVAL_MS: env.positiveInt(1_000),
});

/** The parsed configuration of the order-service. */
export type Config = z.infer<typeof configSchema>;
