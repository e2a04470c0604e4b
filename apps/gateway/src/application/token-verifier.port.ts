/** Who a verified bearer token speaks for. */
export interface Principal {
  /** The token's `sub`, e.g. a user id; undefined when the token names none. */
  subject: string | undefined;
  /** The scopes of its `scope` claim, e.g. `orders:read`. */
  scopes: ReadonlySet<string>;
}

/** Why a bearer token was refused; each maps to one problem. */
export type TokenProblem =
  /** The token is well formed and signed, but past its `exp` (401). */
  | 'expired'
  /** Malformed, forged (bad signature), wrong algorithm, issuer or audience, or not yet valid (401). */
  | 'invalid'
  /** The keys to check it with could not be fetched (JWKS URL unreachable) (503). */
  | 'keys_unavailable';

/** A token that could not be accepted. */
export class TokenRejectedError extends Error {
  constructor(
    readonly problem: TokenProblem,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.name = 'TokenRejectedError';
  }
}

/** Checks bearer tokens (JWT with jose in production, see infrastructure/). */
export interface TokenVerifier {
  /**
   * @returns the principal the token speaks for.
   * @throws {TokenRejectedError} when the token is expired, forged or otherwise unacceptable.
   */
  verify(token: string): Promise<Principal>;
}
