import { z } from 'zod';

/**
 * Thrown when the environment does not satisfy an app's configuration schema. The message names
 * every offending variable, e.g. `PORT: Too big: expected number to be <=65535`.
 */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment once against a zod object schema and returns a frozen, typed config
 * (STYLE.md rule 5: nothing else reads `process.env`).
 *
 * @param schema - a `z.object` whose keys are environment variable names.
 * @param env - the variables to read; `process.env` in `main.ts`, a literal object in tests.
 * @throws {ConfigError} naming each variable that is missing or malformed.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): Readonly<z.infer<S>> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  return Object.freeze(result.data) as Readonly<z.infer<S>>;
}

/** Builders for environment variables, which always arrive as strings. */
export const env = {
  /** A TCP port; `0` lets the OS pick a free one (the app then registers the real port). */
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  /** A positive integer, e.g. a duration in ms or a pool size. */
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  /** A non-negative integer, e.g. an amount in cents. */
  nonNegativeInt: (fallback: number) => z.coerce.number().int().nonnegative().default(fallback),
  /** A URL such as `postgres://postgres@127.0.0.1:5432/orders`. */
  url: (fallback: string) => z.url().default(fallback),
  /** A comma-separated list, e.g. `KAFKA_BROKERS=127.0.0.1:9092,127.0.0.1:9094`. */
  list: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean))
      .pipe(z.array(z.string()).min(1)),
  /** `true`/`false`/`1`/`0`. */
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'])
      .default(fallback ? 'true' : 'false')
      .transform((value) => value === 'true' || value === '1'),
  /** A pino log level. */
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/**
 * The variables every service reads: where it listens, what it advertises to the registry, and
 * how it logs. Apps extend this with `commonServiceEnv.extend({...})`.
 */
export const commonServiceEnv = z.object({
  HOST: z.string().default('0.0.0.0'),
  /** The address other processes use to reach this instance; registered with the registry. */
  ADVERTISE_HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: env.logLevel(),
  REGISTRY_URL: env.url('http://127.0.0.1:8500'),
  /** Bearer token for registry writes (register, heartbeat, deregister) when the registry requires one. */
  REGISTRY_TOKEN: z.string().min(16).optional(),
  /** Time-to-live of this instance's registration lease, in ms; heartbeats renew it. */
  REGISTRY_TTL_MS: env.positiveInt(10_000),
  /** Time allowed for a graceful shutdown before the process exits anyway, in ms. */
  SHUTDOWN_TIMEOUT_MS: env.positiveInt(15_000),
});

/** The parsed form of {@link commonServiceEnv}. */
export type CommonServiceConfig = z.infer<typeof commonServiceEnv>;
