import { ProblemError } from '@msr/service-defaults';
import type { RequestHandler, Response } from 'express';
import { TokenRejectedError, type Principal, type TokenVerifier } from '../../application/token-verifier.port.js';
import type { GatewayRoute } from '../../domain/route-table.js';

/** What the caller's `Authorization` header amounted to; kept in `res.locals` by {@link identify}. */
export type Caller =
  | { kind: 'anonymous' }
  | { kind: 'authenticated'; principal: Principal }
  | { kind: 'rejected'; error: TokenRejectedError };

const anonymous: Caller = Object.freeze({ kind: 'anonymous' });

/** The caller {@link identify} found for this request (anonymous if it did not run). */
export function callerOf(res: Response): Caller {
  return (res.locals['caller'] as Caller | undefined) ?? anonymous;
}

const bearerPattern = /^Bearer +([\w-]+\.[\w-]+\.[\w-]+) *$/i;

/**
 * Authentication without a verdict: verifies a bearer token if the request has one and notes
 * who is calling (or why the token was refused) for the rate limiter and {@link authorize}.
 * Public routes stay open to anyone, so nothing is refused here.
 */
export function identify(verifier: TokenVerifier): RequestHandler {
  const verify = async (token: string): Promise<Caller> => {
    try {
      return { kind: 'authenticated', principal: await verifier.verify(token) };
    } catch (error) {
      if (!(error instanceof TokenRejectedError)) throw error;
      return { kind: 'rejected', error };
    }
  };
  return (req, res, next) => {
    const header = req.headers.authorization;
    // Anonymous requests (public reads) stay synchronous: no promise on the hot path.
    if (header === undefined) {
      next();
      return;
    }
    const token = bearerPattern.exec(header)?.[1];
    if (token === undefined) {
      res.locals['caller'] = { kind: 'rejected', error: new TokenRejectedError('invalid', 'The Authorization header is not "Bearer <JWT>"') } satisfies Caller;
      next();
      return;
    }
    verify(token).then((caller) => {
      res.locals['caller'] = caller;
      next();
    }, next);
  };
}

/** RFC 6750 §3: a 401 names the scheme; an error code says what was wrong with the token. */
function challenge(res: Response, error?: 'invalid_token' | 'insufficient_scope', scope?: string): void {
  const params = [error === undefined ? undefined : `error="${error}"`, scope === undefined ? undefined : `scope="${scope}"`].filter(Boolean);
  res.setHeader('www-authenticate', params.length === 0 ? 'Bearer' : `Bearer ${params.join(', ')}`);
}

/**
 * The verdict for one routing-table entry: public entries pass; the others need a valid token
 * (401 `AUTH.TOKEN_MISSING`, `AUTH.TOKEN_EXPIRED` or `AUTH.TOKEN_INVALID` otherwise) carrying
 * the entry's scope (403 `AUTH.INSUFFICIENT_SCOPE`). 503 `AUTH.KEYS_UNAVAILABLE` when the JWKS
 * could not be fetched. Every refusal carries an RFC 6750 `WWW-Authenticate` challenge.
 *
 * @throws {ProblemError} as above (passed to the problem handler).
 */
export function authorize(route: GatewayRoute, res: Response): void {
  if (route.public === true) return;
  const caller = callerOf(res);
  switch (caller.kind) {
    case 'anonymous':
      challenge(res);
      throw new ProblemError(401, 'AUTH.TOKEN_MISSING', `${route.prefix} needs a bearer token (Authorization: Bearer <JWT>)`);
    case 'rejected': {
      const { problem } = caller.error;
      if (problem === 'keys_unavailable') throw new ProblemError(503, 'AUTH.KEYS_UNAVAILABLE', caller.error.message);
      challenge(res, 'invalid_token');
      throw new ProblemError(401, problem === 'expired' ? 'AUTH.TOKEN_EXPIRED' : 'AUTH.TOKEN_INVALID', caller.error.message);
    }
    case 'authenticated':
      if (route.scope !== undefined && !caller.principal.scopes.has(route.scope)) {
        challenge(res, 'insufficient_scope', route.scope);
        throw new ProblemError(403, 'AUTH.INSUFFICIENT_SCOPE', `This request needs the scope ${route.scope}`, { required_scope: route.scope });
      }
      return;
    default: {
      const unhandled: never = caller;
      throw new Error(`unknown caller ${JSON.stringify(unhandled)}`);
    }
  }
}
