import { err, ok, type Result } from './result.js';
import { InvariantViolationError, UserError, UserErrorCode } from './user.errors.js';

/** Longest name accepted, in characters (UTF-16 code units after trimming). */
export const maxUserNameLength = 200;

/**
 * A user's display name: required, trimmed, 1–200 characters. Immutable. Seed 002 only checks
 * that the name is not empty; the upper bound keeps storage and logs sane.
 */
export class UserName {
  private constructor(private readonly value: string) {}

  /**
   * Validates a raw name.
   *
   * @returns the trimmed name, or `USER.INVALID_NAME` naming the `name` field.
   */
  static create(raw: string): Result<UserName, UserError> {
    const trimmed = raw.trim();
    if (trimmed.length === 0) return err(new UserError(UserErrorCode.invalidName, 'name is required', 'name'));
    if (trimmed.length > maxUserNameLength) {
      return err(new UserError(UserErrorCode.invalidName, `name is longer than ${maxUserNameLength} characters`, 'name'));
    }
    return ok(new UserName(trimmed));
  }

  /**
   * Rebuilds a name read back from storage.
   *
   * @throws {InvariantViolationError} when the stored value is not a valid trimmed name.
   */
  static restore(stored: string): UserName {
    const result = UserName.create(stored);
    if (!result.ok || result.value.value !== stored) throw new InvariantViolationError(`stored name ${JSON.stringify(stored)} is invalid`);
    return result.value;
  }

  /** True when both are the same name. */
  equals(other: UserName): boolean {
    return this.value === other.value;
  }

  /** The trimmed name. */
  toString(): string {
    return this.value;
  }
}
