import type { BreakerPolicy, RetryBudgetPolicy, RetryPolicy } from '@msr/circuit-breaker';
import { loadBalancingStrategies } from '@msr/discovery';
import { commonServiceEnv, env } from '@msr/service-defaults';
import { z } from 'zod';
import type { GatewayRoute } from './domain/route-table.js';

/**
 * The routing table (SYSTEM.md "Gateway"): public `/api/...` prefixes and methods to the services
 * that serve them, `/api` removed on the way, and who may call (phase-2 decisions: reads of
 * products and users are public; changes and everything about orders, payments and accounts need
 * a bearer token with the named scope). Replace it with the `GATEWAY_ROUTES` variable (a JSON
 * array of the same objects).
 */
export const defaultRoutes: readonly GatewayRoute[] = Object.freeze([
  { prefix: '/api/users', methods: ['GET'], service: 'user-service', stripPrefix: '/api', public: true },
  { prefix: '/api/users', methods: ['POST', 'PUT', 'PATCH', 'DELETE'], service: 'user-service', stripPrefix: '/api', scope: 'users:write' },
  { prefix: '/api/orders', methods: ['GET'], service: 'order-service', stripPrefix: '/api', scope: 'orders:read' },
  { prefix: '/api/orders', methods: ['POST'], service: 'order-service', stripPrefix: '/api', scope: 'orders:write' },
  { prefix: '/api/products', methods: ['GET'], service: 'order-service', stripPrefix: '/api', public: true },
  { prefix: '/api/payments', methods: ['GET'], service: 'payment-service', stripPrefix: '/api', scope: 'payments:read' },
  { prefix: '/api/accounts', methods: ['GET'], service: 'payment-service', stripPrefix: '/api', scope: 'payments:read' },
]);

/**
 * The development signing secret, the same one `tools/system`'s `mintDevToken` signs with. Used
 * (with a warning in the log) when neither `JWT_SECRET` nor `JWT_JWKS_URL` is set.
 */
export const developmentJwtSecret = 'dev-only-secret-change-me-0123456789abcdef';

const pathPattern = /^(\/[\w.~-]+)+$/;
const httpMethods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

const routeSchema = z
  .object({
    prefix: z.string().regex(pathPattern, 'must look like /api/users (no trailing slash, no wildcards)'),
    service: z.string().min(1),
    stripPrefix: z.union([z.literal(''), z.string().regex(pathPattern)]).default('/api'),
    methods: z
      .array(z.string().transform((method) => method.toUpperCase()).pipe(z.enum(httpMethods)))
      .min(1)
      .optional(),
    public: z.boolean().optional(),
    scope: z.string().regex(/^\S+$/, 'must be one scope, without spaces').optional(),
  })
  .strict()
  .refine((route) => route.prefix === route.stripPrefix || route.prefix.startsWith(`${route.stripPrefix}/`), {
    message: 'stripPrefix must be a leading part of prefix',
  })
  .refine((route) => !(route.public === true && route.scope !== undefined), { message: 'a public route needs no scope' });

/** Each method of a prefix is served by one entry, and at most one entry per prefix lists no methods. */
function methodsAreUnique(routes: readonly GatewayRoute[]): boolean {
  const seen = new Set<string>();
  for (const route of routes) {
    for (const method of route.methods ?? ['*']) {
      const key = `${route.prefix} ${method}`;
      if (seen.has(key)) return false;
      seen.add(key);
    }
  }
  return true;
}

const routeTable = z
  .string()
  .optional()
  .transform((value, context) => {
    if (value === undefined) return defaultRoutes;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      context.addIssue({ code: 'custom', message: 'must be a JSON array of {prefix, service, stripPrefix, methods?, public?, scope?}' });
      return z.NEVER;
    }
  })
  .pipe(z.array(routeSchema).min(1).refine(methodsAreUnique, { message: 'each method of a prefix must be served by one entry only' }));

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === '' ? undefined : value));

/** The gateway's environment: {@link commonServiceEnv} plus routing, security, limits and resilience numbers. */
export const configSchema = commonServiceEnv
  .extend({
    PORT: env.port(8080),
    GATEWAY_ROUTES: routeTable,
    /** HS256 secret that bearer tokens are signed with (at least 32 characters). */
    JWT_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters (256 bits for HS256)').optional()),
    /** Or: a JWKS URL whose keys sign the tokens (RS256, ES256, PS256, EdDSA...). */
    JWT_JWKS_URL: optionalString.pipe(z.url().optional()),
    /** When set, tokens must carry this `iss`. */
    JWT_ISSUER: optionalString,
    /** When set, tokens must carry this `aud`. */
    JWT_AUDIENCE: optionalString,
    /** Requests each client (token subject, or IP without a token) may make per minute. */
    RATE_LIMIT_PER_MINUTE: env.positiveInt(1_200),
    /** Largest request body forwarded, in bytes; larger ones get 413. */
    MAX_BODY_BYTES: env.positiveInt(1_048_576),
    /** Origins browsers may call from (`*` for any), comma-separated. */
    CORS_ORIGINS: env.list('*'),
    /** An upstream must send its status and headers within this many ms (504 otherwise), and never pause its body longer. */
    UPSTREAM_TIMEOUT_MS: env.positiveInt(10_000),
    /** Breakers (per instance and per service) open when more than this percentage of calls failed… */
    BREAKER_ERROR_THRESHOLD_PERCENTAGE: z.coerce.number().min(0).max(100).default(50),
    /** …out of at least this many calls in the rolling window. */
    BREAKER_VOLUME_THRESHOLD: env.positiveInt(5),
    /** How long an open breaker refuses calls before a half-open trial, in ms. */
    BREAKER_RESET_TIMEOUT_MS: env.positiveInt(10_000),
    /** The breakers' rolling statistics window, in ms. */
    BREAKER_ROLLING_WINDOW_MS: env.positiveInt(10_000),
    /** Requests in flight per upstream service at most; beyond it 503 at once (bulkhead). */
    BULKHEAD_MAX_CONCURRENT: env.positiveInt(256),
    /** Attempts per request, the first included: a GET that could not connect moves to another instance. */
    RETRY_MAX_ATTEMPTS: env.positiveInt(2),
    RETRY_BASE_DELAY_MS: env.nonNegativeInt(20),
    RETRY_MAX_DELAY_MS: env.nonNegativeInt(200),
    /** Retries per upstream service may add at most this fraction of its requests (retry budget)… */
    RETRY_BUDGET_RATIO: z.coerce.number().min(0).default(0.2),
    /** …plus this many retries a second. */
    RETRY_BUDGET_MIN_PER_SECOND: z.coerce.number().min(0).default(10),
    /** How often the discovery cache asks the registry again, in ms. */
    DISCOVERY_REFRESH_MS: env.positiveInt(2_000),
    /** How the gateway picks among a service's healthy instances. */
    LOAD_BALANCING: z.enum(loadBalancingStrategies).default('round_robin'),
  })
  .refine((config) => !(config.JWT_SECRET !== undefined && config.JWT_JWKS_URL !== undefined), {
    message: 'set JWT_SECRET or JWT_JWKS_URL, not both',
    path: ['JWT_JWKS_URL'],
  });

/** The parsed, frozen configuration. */
export type GatewayConfig = z.infer<typeof configSchema>;

/** How bearer tokens are verified. */
export type JwtKeySource =
  | { kind: 'secret'; secret: string; development: boolean }
  | { kind: 'jwks'; url: string };

/** Where token signatures come from: the JWKS URL, the secret, or the development secret. */
export function jwtKeySource(config: GatewayConfig): JwtKeySource {
  if (config.JWT_JWKS_URL !== undefined) return { kind: 'jwks', url: config.JWT_JWKS_URL };
  if (config.JWT_SECRET !== undefined) return { kind: 'secret', secret: config.JWT_SECRET, development: false };
  return { kind: 'secret', secret: developmentJwtSecret, development: true };
}

/** The breaker policy of each upstream instance that the configuration describes. */
export function breakerPolicy(config: GatewayConfig): BreakerPolicy {
  return {
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    errorThresholdPercentage: config.BREAKER_ERROR_THRESHOLD_PERCENTAGE,
    volumeThreshold: config.BREAKER_VOLUME_THRESHOLD,
    resetTimeoutMs: config.BREAKER_RESET_TIMEOUT_MS,
    rollingCountTimeoutMs: config.BREAKER_ROLLING_WINDOW_MS,
  };
}

/**
 * The breaker policy of each upstream service: like an instance's, but its timeout covers every
 * attempt of a request and the backoffs between them, so only the per-attempt timeout (504)
 * ever ends a slow exchange.
 */
export function serviceBreakerPolicy(config: GatewayConfig): BreakerPolicy {
  return { ...breakerPolicy(config), timeoutMs: config.RETRY_MAX_ATTEMPTS * (config.UPSTREAM_TIMEOUT_MS + config.RETRY_MAX_DELAY_MS) + 1_000 };
}

/** The retry policy the configuration describes; main.ts adds each upstream service's retry budget. */
export function retryPolicy(config: GatewayConfig): RetryPolicy {
  return { maxAttempts: config.RETRY_MAX_ATTEMPTS, baseDelayMs: config.RETRY_BASE_DELAY_MS, maxDelayMs: config.RETRY_MAX_DELAY_MS };
}

/** The retry budget policy the configuration describes. */
export function retryBudgetPolicy(config: GatewayConfig): Partial<RetryBudgetPolicy> {
  return { ratio: config.RETRY_BUDGET_RATIO, minRetriesPerSecond: config.RETRY_BUDGET_MIN_PER_SECOND };
}
