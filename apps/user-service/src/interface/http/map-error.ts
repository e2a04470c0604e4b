import { ProblemError } from '@msr/service-defaults';
import { UserError, UserErrorCode } from '../../domain/user.errors.js';

/**
 * The one place where the user context's error codes become HTTP answers (twentyhq's pattern):
 * a switch over every {@link UserErrorCode} ending in an exhaustiveness check, so a new code does
 * not compile until it has a status here. Errors that carry a field get an `invalid_params`
 * entry naming it. Anything that is not a {@link UserError} is left to the default handler (500).
 */
export function mapError(error: unknown): ProblemError | undefined {
  if (!(error instanceof UserError)) return undefined;
  const extensions = error.field === undefined ? {} : { invalid_params: [{ name: error.field, reason: error.message }] };
  return new ProblemError(statusOf(error.code), error.code, error.message, extensions);
}

function statusOf(code: UserErrorCode): number {
  switch (code) {
    case UserErrorCode.invalidEmail:
    case UserErrorCode.invalidName:
      return 400;
    case UserErrorCode.notFound:
      return 404;
    case UserErrorCode.emailTaken:
    case UserErrorCode.notPending:
    case UserErrorCode.invalidStatusTransition:
    case UserErrorCode.concurrentlyModified:
      return 409;
    default:
      return assertNever(code);
  }
}

function assertNever(code: never): never {
  throw new Error(`unmapped user error code ${String(code)}`);
}
