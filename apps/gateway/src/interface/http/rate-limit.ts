import type { HeaderSink } from './security-headers.js';
import { ProblemError } from '@msr/service-defaults';
import type { RequestHandler } from 'express';
import { ipKeyGenerator, MemoryStore, type Options } from 'express-rate-limit';
import { callerOf, type Caller } from './authentication.js';

/** Options of {@link RateLimiter}. */
export interface RateLimitOptions {
  /** Requests per client per window. */
  limit: number;
  /** The window, in ms. */
  windowMs: number;
}

/**
 * Rate limiting per client, a fixed window counted in memory by express-rate-limit's
 * `MemoryStore`: a client is the subject of a valid bearer token, or else the connecting IP
 * address (IPv6 by /56 subnet), so one user cannot dodge the limit by switching addresses, nor
 * can many users behind one NAT starve each other. Every answer carries the IETF `RateLimit` and
 * `RateLimit-Policy` headers (draft 7, as express-rate-limit writes them); beyond the limit the
 * answer is 429 `RATE_LIMIT.EXCEEDED` problem+json with `Retry-After` in seconds.
 *
 * The store is used directly rather than through express-rate-limit's middleware: the proxy's
 * hot path runs outside Express, and the middleware's chain of awaits costs as much as the rest
 * of the gateway's checks together.
 */
export class RateLimiter {
  private readonly store = new MemoryStore();
  private readonly policyHeader: string;

  constructor(private readonly options: RateLimitOptions) {
    this.store.init({ windowMs: options.windowMs } as Options);
    this.policyHeader = `${options.limit};w=${Math.ceil(options.windowMs / 1_000)}`;
  }

  /** The key a client is counted under: `sub:<subject>` for a valid token, else `ip:<address or /56 subnet>`. */
  static clientKey(caller: Caller, remoteAddress: string | undefined): string {
    if (caller.kind === 'authenticated' && caller.principal.subject !== undefined) return `sub:${caller.principal.subject}`;
    return `ip:${ipKeyGenerator(remoteAddress ?? 'unknown')}`;
  }

  /**
   * Counts one request of `client` and sets the rate-limit headers of its answer on `headers`.
   *
   * @throws {ProblemError} 429 `RATE_LIMIT.EXCEEDED` (with `Retry-After` set) past the limit.
   */
  async take(client: string, headers: HeaderSink): Promise<void> {
    const { limit, windowMs } = this.options;
    const { totalHits, resetTime } = await this.store.increment(client);
    const resetSeconds = Math.max(0, Math.ceil(((resetTime?.getTime() ?? Date.now() + windowMs) - Date.now()) / 1_000));
    headers.setHeader('ratelimit-policy', this.policyHeader);
    headers.setHeader('ratelimit', `limit=${limit}, remaining=${Math.max(limit - totalHits, 0)}, reset=${resetSeconds}`);
    if (totalHits > limit) {
      headers.setHeader('retry-after', String(resetSeconds));
      throw new ProblemError(429, 'RATE_LIMIT.EXCEEDED', `Too many requests: at most ${limit} per ${windowMs / 1_000} s per client`, { limit, window_ms: windowMs });
    }
  }
}

/** {@link RateLimiter.take} as Express middleware for the gateway's own routes; runs after `identify`. */
export function rateLimited(limiter: RateLimiter): RequestHandler {
  return (req, res, next) => {
    limiter.take(RateLimiter.clientKey(callerOf(res), req.socket.remoteAddress), res).then(() => next(), next);
  };
}
