import { z } from 'zod';
import { tcpCheckTarget } from '../../domain/health-check.value-object.js';
import { InvalidDurationError, parseGoDuration } from './go-duration.js';

const DAY_MS = 24 * 3_600_000;

/** Bounds of every duration the API accepts, in ms; outside them a value is absurd. */
export const durationBounds = {
  interval: { minMs: 10, maxMs: DAY_MS },
  timeout: { minMs: 1, maxMs: 10 * 60_000 },
  ttl: { minMs: 10, maxMs: DAY_MS },
  deregisterAfter: { minMs: 100, maxMs: 7 * DAY_MS },
  wait: { minMs: 0, maxMs: 10 * 60_000 },
} as const;

/** Defaults for a check that names a target but leaves out `interval` or `timeout`, in ms. */
export const checkDefaults = { intervalMs: 10_000, timeoutMs: 5_000 } as const;

/** A Go duration (integer ns or a string like "10s") within bounds, as ms. */
export function duration(bounds: { minMs: number; maxMs: number }) {
  return z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      try {
        return parseGoDuration(value);
      } catch (error) {
        if (!(error instanceof InvalidDurationError)) throw error;
        ctx.addIssue({ code: 'custom', message: error.message });
        return z.NEVER;
      }
    })
    .pipe(
      z
        .number()
        .min(0, 'must not be negative')
        .refine((ms) => ms <= 0 || ms >= bounds.minMs, `must be at least ${bounds.minMs} ms`)
        .refine((ms) => ms <= bounds.maxMs, `must be at most ${bounds.maxMs} ms`),
    );
}

/**
 * Service names and ids travel in URL paths (`/v1/services/{name}/discover`), so they are kept to
 * characters that need no escaping.
 */
export const pathSafe = /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/;

/** A service name: required, at most 128 characters, safe in a URL path. */
export const serviceName = z.string().min(1, 'is required').max(128).regex(pathSafe, 'may contain only letters, digits and . _ : @ -');

const serviceSchema = z.object({
  // Go clients send "" for an unset id; both mean "generate one".
  id: z
    .string()
    .max(200)
    .regex(pathSafe, 'may contain only letters, digits and . _ : @ -')
    .or(z.literal(''))
    .nullish(),
  name: serviceName,
  address: z.string().min(1, 'is required').max(255).regex(/^[^\s/]+$/, 'must be a host name or IP address'),
  port: z.number().int('must be an integer').min(1, 'must be between 1 and 65535').max(65535, 'must be between 1 and 65535'),
  // Go encodes a nil slice or map as null.
  tags: z.array(z.string().max(256)).max(64).nullish(),
  meta: z.record(z.string().max(128), z.string().max(1024)).nullish(),
});

const healthCheckSchema = z
  .object({
    id: z.string().max(200).nullish(),
    name: z.string().max(200).nullish(),
    http: z
      .string()
      .max(2048)
      .refine((value) => value === '' || value.startsWith('/') || /^https?:\/\/[^\s]+$/.test(value), 'must be a path like /health or an http(s) URL')
      .nullish(),
    tcp: z
      .string()
      .max(300)
      .refine((value) => value === '' || tcpCheckTarget(value) !== undefined, 'must be host:port')
      .nullish(),
    interval: duration(durationBounds.interval).optional(),
    timeout: duration(durationBounds.timeout).optional(),
    /** Consul's FailuresBeforeCritical: consecutive failures before critical (this check only). */
    failures_before_critical: z.number().int('must be an integer').min(1, 'must be at least 1').max(100).optional(),
    /** Consul's SuccessBeforePassing: consecutive successes before passing again (this check only). */
    successes_before_passing: z.number().int('must be an integer').min(1, 'must be at least 1').max(100).optional(),
    /** Consul's DeregisterCriticalServiceAfter. */
    deregister_critical_service_after: duration(durationBounds.deregisterAfter)
      .refine((ms) => ms > 0, 'must be positive')
      .optional(),
  })
  .superRefine((check, ctx) => {
    if (check.http && check.tcp) ctx.addIssue({ code: 'custom', path: ['tcp'], message: 'give either http or tcp, not both' });
    if (check.http || check.tcp) {
      if (check.interval === 0) ctx.addIssue({ code: 'custom', path: ['interval'], message: 'must be positive' });
      if (check.timeout === 0) ctx.addIssue({ code: 'custom', path: ['timeout'], message: 'must be positive' });
    }
  });

/**
 * Body of `POST /v1/services`: seed 000's `{service, health_check}` plus an optional lease `ttl`
 * and, in the check, optional per-check thresholds. Unknown members (a Go client also sends
 * `health` and `last_seen`) are ignored.
 */
export const registrationSchema = z.object({
  service: serviceSchema,
  health_check: healthCheckSchema.nullish(),
  ttl: duration(durationBounds.ttl)
    .refine((ms) => ms > 0, 'must be positive')
    .nullish(),
});

/** A validated registration body; durations already in ms. */
export type RegistrationBody = z.infer<typeof registrationSchema>;
