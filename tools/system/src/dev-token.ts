import { SignJWT } from 'jose';

/**
 * The development signing secret: the gateway's default `JWT_SECRET` (it logs a warning when it
 * runs with it). Never use it outside development and tests.
 */
export const devJwtSecret = 'dev-only-secret-change-me-0123456789abcdef';

/** Every scope the gateway's default routing table asks for. */
export const allScopes: readonly string[] = Object.freeze(['users:write', 'orders:read', 'orders:write', 'payments:read']);

/** Options of {@link mintDevToken}; everything has a development default. */
export interface DevTokenOptions {
  /** HS256 secret; default {@link devJwtSecret}. */
  secret?: string;
  /** Scopes for the `scope` claim; default {@link allScopes}. */
  scopes?: readonly string[];
  /** The `sub` claim, e.g. a user id; default `dev-user`. */
  subject?: string;
  /** Lifetime in seconds from now (negative for an already expired token); default 3 600. */
  expiresInSeconds?: number;
  /** Optional `iss` and `aud` claims, for gateways configured with `JWT_ISSUER` / `JWT_AUDIENCE`. */
  issuer?: string;
  audience?: string;
}

/**
 * Mints a development bearer token for the gateway: an HS256 JWT with `sub`, `scope`
 * (space-separated), `iat` and `exp`. Used by `PublicApi`, the demo, the tests and
 * `npm run token`.
 *
 * @returns the compact JWT, for `Authorization: Bearer <token>`.
 */
export async function mintDevToken(options: DevTokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1_000);
  let jwt = new SignJWT({ scope: (options.scopes ?? allScopes).join(' ') })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.subject ?? 'dev-user')
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresInSeconds ?? 3_600));
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret ?? devJwtSecret));
}
