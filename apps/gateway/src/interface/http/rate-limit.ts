import { ProblemError, type Logger } from '@msr/service-defaults';
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { callerOf } from './authentication.js';

/** Options of {@link rateLimiter}. */
export interface RateLimitOptions {
  /** Requests per client per window. */
  limit: number;
  /** The window, in ms. */
  windowMs: number;
  logger: Logger;
}

/**
 * Rate limiting per client with express-rate-limit (fixed window, in memory): a client is the
 * subject of a valid bearer token, or else the connecting IP address (IPv6 by /56 subnet), so one
 * user cannot dodge the limit by switching addresses, nor can many users behind one NAT starve
 * each other. Answers carry the IETF `RateLimit` and `RateLimit-Policy` headers (draft 7);
 * beyond the limit, 429 `RATE_LIMIT.EXCEEDED` problem+json with `Retry-After` in seconds.
 * Runs after {@link identify}.
 */
export function rateLimiter(options: RateLimitOptions): RequestHandler {
  return rateLimit({
    windowMs: options.windowMs,
    limit: options.limit,
    // Draft 7 (`RateLimit: limit=…, remaining=…, reset=…`) rather than 8, whose partition key
    // costs a SHA-256 per request.
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req, res) => {
      const caller = callerOf(res);
      if (caller.kind === 'authenticated' && caller.principal.subject !== undefined) return `sub:${caller.principal.subject}`;
      return `ip:${ipKeyGenerator(req.socket.remoteAddress ?? 'unknown')}`;
    },
    handler: (_req, _res, next) => {
      next(new ProblemError(429, 'RATE_LIMIT.EXCEEDED', `Too many requests: at most ${options.limit} per ${options.windowMs / 1_000} s per client`, { limit: options.limit, window_ms: options.windowMs }));
    },
    // The key is chosen above from the socket, not from a client-supplied X-Forwarded-For.
    validate: { xForwardedForHeader: false },
    logger: {
      warn: (error, message) => options.logger.warn({ err: error }, message ?? 'rate limiter warning'),
      error: (error, message) => options.logger.error({ err: error }, message ?? 'rate limiter error'),
    },
  });
}
