import type { HeaderSink } from './security-headers.js';
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

/** The caller {@link identify} noted for this request (anonymous if it did not run). */
export function callerOf(res: Response): Caller {
  return (res.locals['caller'] as Caller | undefined) ?? anonymous;
}

const bearerPattern = /^Bearer +([\w-]+\.[\w-]+\.[\w-]+) *$/i;

/**
 * Who is calling, from a request's `Authorization` header: anonymous without one (synchronously:
 * no promise on the hot path of public reads), else the verified principal or why the token was
 * refused.
 *
 * @throws whatever the verifier throws besides {@link TokenRejectedError} (a bug, not a bad token).
 */
export function identifyCaller(header: string | undefined, verifier: TokenVerifier): Caller | Promise<Caller> {
  if (header === undefined) return anonymous;
  const token = bearerPattern.exec(header)?.[1];
  if (token === undefined) return { kind: 'rejected', error: new TokenRejectedError('invalid', 'The Authorization header is not "Bearer <JWT>"') };
  return verifier.verify(token).then(
    (principal): Caller => ({ kind: 'authenticated', principal }),
    (error: unknown): Caller => {
      if (!(error instanceof TokenRejectedError)) throw error;
      return { kind: 'rejected', error };
    },
  );
}

/**
 * Authentication without a verdict, for the gateway's own Express routes (`/docs`): notes who is
 * calling (or why the token was refused) in `res.locals` for the rate limiter. Public routes stay
 * open to anyone, so nothing is refused here.
 */
export function identify(verifier: TokenVerifier): RequestHandler {
  return (req, res, next) => {
    const caller = identifyCaller(req.headers.authorization, verifier);
    if (!(caller instanceof Promise)) {
      res.locals['caller'] = caller;
      next();
      return;
    }
    caller.then((known) => {
      res.locals['caller'] = known;
      next();
    }, next);
  };
}

/** RFC 6750 §3: a 401 names the scheme; an error code says what was wrong with the token. */
function challenge(headers: HeaderSink, error?: 'invalid_token' | 'insufficient_scope', scope?: string): void {
  const params = [error === undefined ? undefined : `error="${error}"`, scope === undefined ? undefined : `scope="${scope}"`].filter(Boolean);
  headers.setHeader('www-authenticate', params.length === 0 ? 'Bearer' : `Bearer ${params.join(', ')}`);
}

/**
 * The verdict for one routing-table entry: public entries pass; the others need a valid token
 * (401 `AUTH.TOKEN_MISSING`, `AUTH.TOKEN_EXPIRED` or `AUTH.TOKEN_INVALID` otherwise) carrying
 * the entry's scope (403 `AUTH.INSUFFICIENT_SCOPE`). 503 `AUTH.KEYS_UNAVAILABLE` when the JWKS
 * could not be fetched. Every refusal carries an RFC 6750 `WWW-Authenticate` challenge.
 *
 * @throws {ProblemError} as above (passed to the problem handler).
 */
export function authorize(route: GatewayRoute, caller: Caller, headers: HeaderSink): void {
  if (route.public === true) return;
  switch (caller.kind) {
    case 'anonymous':
      challenge(headers);
      throw new ProblemError(401, 'AUTH.TOKEN_MISSING', `${route.prefix} needs a bearer token (Authorization: Bearer <JWT>)`);
    case 'rejected': {
      const { problem } = caller.error;
      if (problem === 'keys_unavailable') throw new ProblemError(503, 'AUTH.KEYS_UNAVAILABLE', caller.error.message);
      challenge(headers, 'invalid_token');
      throw new ProblemError(401, problem === 'expired' ? 'AUTH.TOKEN_EXPIRED' : 'AUTH.TOKEN_INVALID', caller.error.message);
    }
    case 'authenticated':
      if (route.scope !== undefined && !caller.principal.scopes.has(route.scope)) {
        challenge(headers, 'insufficient_scope', route.scope);
        throw new ProblemError(403, 'AUTH.INSUFFICIENT_SCOPE', `This request needs the scope ${route.scope}`, { required_scope: route.scope });
      }
      return;
    default: {
      const unhandled: never = caller;
      throw new Error(`unknown caller ${JSON.stringify(unhandled)}`);
    }
  }
}
