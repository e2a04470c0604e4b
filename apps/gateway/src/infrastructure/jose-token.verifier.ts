import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { TokenRejectedError, type Principal, type TokenVerifier } from '../application/token-verifier.port.js';

/** Where signatures are checked against: an HS256 secret, or the keys published at a JWKS URL. */
export type JoseKeySource = { kind: 'secret'; secret: string } | { kind: 'jwks'; url: string };

/** Options of {@link JoseTokenVerifier}. */
export interface JoseTokenVerifierOptions {
  keys: JoseKeySource;
  /** Required `iss`, when set. */
  issuer?: string;
  /** Required `aud`, when set. */
  audience?: string;
  /** Clock skew tolerated on `exp` and `nbf`, in seconds. Default 5. */
  clockToleranceSeconds?: number;
}

/** Asymmetric algorithms accepted from a JWKS; `none` and HMAC never are (no algorithm confusion). */
const jwksAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

function scopesOf(claim: unknown): Set<string> {
  if (typeof claim === 'string') return new Set(claim.split(' ').filter(Boolean));
  if (Array.isArray(claim)) return new Set(claim.filter((scope): scope is string => typeof scope === 'string'));
  return new Set();
}

/**
 * Whether verification failed for want of keys rather than because of the token: the JWKS
 * request timed out, could not connect (fetch's `TypeError`), or answered something that is not
 * a key set (jose's generic error; every token fault has its own subclass).
 */
function keysUnavailable(error: unknown): boolean {
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return true;
  if (error instanceof errors.JOSEError) return error.constructor === errors.JOSEError;
  return error instanceof TypeError;
}

/**
 * Verifies JWT bearer tokens with jose: signature (HS256 with the secret, or the JWKS's keys,
 * fetched and cached by jose), `exp`/`nbf`, and `iss`/`aud` when configured. Scopes come from the
 * space-separated `scope` claim (RFC 8693), or an array.
 */
export class JoseTokenVerifier implements TokenVerifier {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly options: JWTVerifyOptions;

  constructor(options: JoseTokenVerifierOptions) {
    const { keys } = options;
    this.key = keys.kind === 'secret' ? new TextEncoder().encode(keys.secret) : createRemoteJWKSet(new URL(keys.url));
    this.options = {
      algorithms: keys.kind === 'secret' ? ['HS256'] : jwksAlgorithms,
      clockTolerance: options.clockToleranceSeconds ?? 5,
      ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
      ...(options.audience === undefined ? {} : { audience: options.audience }),
    };
  }

  async verify(token: string): Promise<Principal> {
    try {
      // jose's overloads differ for a key and a key getter; both are valid here.
      const { payload } =
        this.key instanceof Uint8Array ? await jwtVerify(token, this.key, this.options) : await jwtVerify(token, this.key, this.options);
      return { subject: typeof payload.sub === 'string' ? payload.sub : undefined, scopes: scopesOf(payload['scope']) };
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new TokenRejectedError('expired', 'The bearer token has expired', { cause: error });
      if (keysUnavailable(error)) throw new TokenRejectedError('keys_unavailable', 'The keys to verify bearer tokens cannot be fetched', { cause: error });
      throw new TokenRejectedError('invalid', 'The bearer token is malformed, forged or not valid here', { cause: error });
    }
  }
}
