/**
 * The stable codes of every business failure of the user context. Clients and the HTTP layer's
 * `mapError` switch rely on them; add a code here and the compiler points at every place that
 * must handle it.
 */
export const UserErrorCode = {
  /** No user has the given id. */
  notFound: 'USER.NOT_FOUND',
  /** Another user already has this e-mail address (compared case-insensitively). */
  emailTaken: 'USER.EMAIL_TAKEN',
  /** The e-mail address is malformed or longer than 254 characters. */
  invalidEmail: 'USER.INVALID_EMAIL',
  /** The name is empty after trimming or longer than 200 characters. */
  invalidName: 'USER.INVALID_NAME',
  /** Activation was asked for a user that is not pending. */
  notPending: 'USER.NOT_PENDING',
  /** A status change the lifecycle forbids, e.g. back to pending once activated. */
  invalidStatusTransition: 'USER.INVALID_STATUS_TRANSITION',
  /** Someone else changed the user meanwhile, again and again; the caller may retry. */
  concurrentlyModified: 'USER.CONCURRENTLY_MODIFIED',
} as const;

/** One of the {@link UserErrorCode} values, e.g. `USER.NOT_PENDING`. */
export type UserErrorCode = (typeof UserErrorCode)[keyof typeof UserErrorCode];

/** The input field a failure is about, so that a 400 answer can name it. */
export type UserField = 'email' | 'name' | 'status';

/**
 * A business failure of the user context, carried in a `Result` (see `result.ts`). It is an
 * `Error` so that it keeps a message and can be thrown to the HTTP error middleware unchanged.
 */
export class UserError extends Error {
  constructor(
    readonly code: UserErrorCode,
    message: string,
    /** The offending input field, for validation failures. */
    readonly field?: UserField,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/**
 * A broken invariant, e.g. a stored row the domain cannot accept. Thrown, never returned: it is
 * a fault (answered as 500), not a business outcome.
 */
export class InvariantViolationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantViolationError';
  }
}
