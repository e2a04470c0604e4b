import { commonServiceEnv, env } from '@msr/service-defaults';
import { z } from 'zod';

/**
 * The registry's environment. The registry registers with nobody, so of the common service
 * variables it keeps only HOST, LOG_LEVEL and SHUTDOWN_TIMEOUT_MS.
 */
export const configSchema = commonServiceEnv.pick({ HOST: true, LOG_LEVEL: true, SHUTDOWN_TIMEOUT_MS: true }).extend({
  PORT: env.port(8500),
  /**
   * When set, every write (register, heartbeat, deregister) must carry it as
   * `Authorization: Bearer <token>` or `X-Registry-Token`; reads stay open. Unset: writes are open
   * too, as seed 000's clients expect.
   */
  REGISTRY_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** How often lapsed leases and long-critical instances are removed, in ms. */
  SWEEP_INTERVAL_MS: env.positiveInt(1_000),
  /** An instance critical for this long is deregistered, in ms (Consul's DeregisterCriticalServiceAfter). */
  DEREGISTER_CRITICAL_AFTER_MS: env.positiveInt(60_000),
  /** Lease given to registrations with neither `ttl` nor an active check, in ms; 0 = none (seed 000). */
  DEFAULT_TTL_MS: env.nonNegativeInt(0),
  /** Consecutive failed checks before an instance turns critical (so one slow answer does not flap it). */
  HEALTH_FAILURES_BEFORE_CRITICAL: env.positiveInt(2),
  /** Consecutive passed checks before a critical instance passes again. */
  HEALTH_SUCCESSES_BEFORE_PASSING: env.positiveInt(1),
  /** Most instances one service may have; one more registration gets 409. */
  MAX_INSTANCES_PER_SERVICE: env.positiveInt(1_000),
  /**
   * Self-preservation: when more than this share (0-1) of leased instances miss heartbeats at
   * once, evictions stop until they are back; 1 turns it off.
   */
  SELF_PRESERVATION_THRESHOLD: z.coerce.number().gt(0).max(1).default(0.5),
  /** Self-preservation never triggers with fewer leased instances than this. */
  SELF_PRESERVATION_MIN_INSTANCES: env.positiveInt(3),
  /**
   * After a start, answers say "warming up" for this long, in ms (0: never), so clients keep
   * instances the empty registry has not heard from yet; about one lease TTL is enough for every
   * instance to heartbeat, get 404 and register again.
   */
  WARMUP_MS: env.nonNegativeInt(10_000),
  /** Messages a watcher may fall behind (beyond its socket's buffer) before it is dropped. */
  WATCH_BUFFER_SIZE: env.positiveInt(1_000),
  /** Catalog events kept to catch reconnecting watchers up. */
  WATCH_HISTORY_SIZE: env.positiveInt(1_000),
  /** How often an idle watch stream gets a keep-alive comment, in ms. */
  WATCH_KEEPALIVE_MS: env.positiveInt(15_000),
});

/** The registry's parsed configuration. */
export type RegistryConfig = z.infer<typeof configSchema>;
