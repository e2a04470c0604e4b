import { createHash, timingSafeEqual } from 'node:crypto';
import { ProblemError } from '@msr/service-defaults';
import type { RequestHandler } from 'express';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** The token a request carries: `Authorization: Bearer <token>` or `X-Registry-Token: <token>` (as Consul's `X-Consul-Token`). */
function presentedToken(authorization: string | undefined, header: string | undefined): string | undefined {
  const bearer = authorization === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
  return bearer ?? header;
}

/**
 * Guards the registry's writes (register, heartbeat, deregister): with a configured token, a
 * request without it, or with another one, gets 401 `REGISTRY.UNAUTHORIZED`. Without a
 * configured token every request passes, as seed 000's clients expect. Tokens are compared as
 * SHA-256 digests in constant time, so the comparison leaks neither content nor length.
 */
export function registryTokenGuard(token: string | undefined): RequestHandler {
  if (token === undefined) return (_req, _res, next) => next();
  const expected = digest(token);
  return (req, res, next) => {
    const given = presentedToken(req.get('authorization'), req.get('x-registry-token'));
    if (given !== undefined && timingSafeEqual(digest(given), expected)) {
      next();
      return;
    }
    res.setHeader('www-authenticate', 'Bearer realm="registry"');
    next(
      new ProblemError(
        401,
        'REGISTRY.UNAUTHORIZED',
        given === undefined
          ? 'Writes to this registry need its token: send Authorization: Bearer <token> or X-Registry-Token'
          : 'The registry token is not valid',
      ),
    );
  };
}
