/**
 * The outcome of an operation that can fail for an expected business reason (STYLE.md: expected
 * failures are returned, broken invariants are thrown).
 */
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

/** A successful {@link Result}. */
export function ok<T>(value: T): Result<T, never> {
  return { ok: true, value };
}

/** A failed {@link Result}. */
export function fail<E>(error: E): Result<never, E> {
  return { ok: false, error };
}
