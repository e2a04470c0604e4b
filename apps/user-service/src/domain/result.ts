/**
 * The outcome of an operation that can fail for an expected business reason (STYLE.md, after
 * Sairyss/domain-driven-hexagon): the failure is returned as a value so callers must handle it,
 * while broken invariants and infrastructure faults are thrown.
 */
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

/** A successful {@link Result}. */
export function ok<T>(value: T): Result<T, never>;
/** A successful {@link Result} without a value. */
export function ok(): Result<void, never>;
export function ok<T>(value?: T): Result<T | undefined, never> {
  return { ok: true, value };
}

/** A failed {@link Result}. */
export function err<E>(error: E): Result<never, E> {
  return { ok: false, error };
}
