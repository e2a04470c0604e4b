import { err, ok, type Result } from './result.js';
import { InvariantViolationError, UserError, UserErrorCode } from './user.errors.js';

/** Longest address SMTP can carry in a path (RFC 5321 §4.5.3.1.3). */
export const maxEmailLength = 254;

/**
 * A pragmatic subset of RFC 5322 `addr-spec`: a dot-atom local part of at most 64 characters and
 * a domain of dot-separated labels (letters, digits, inner hyphens) with at least one dot.
 * Quoted local parts and IP-literal domains are rejected on purpose: nobody signs up with them.
 */
const emailPattern =
  /^(?=[^@]{1,64}@)[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * An e-mail address that validated itself (seed 002's `Email` value object, made strict): trimmed,
 * lower-cased, at most 254 characters, matching a sane RFC-like pattern. Immutable. Two addresses
 * that differ only in case are the same address, which is what makes `users.email` unique
 * case-insensitively.
 */
export class Email {
  private constructor(private readonly value: string) {}

  /**
   * Validates and normalizes a raw address.
   *
   * @returns the address, or `USER.INVALID_EMAIL` naming the `email` field.
   */
  static create(raw: string): Result<Email, UserError> {
    const normalized = raw.trim().toLowerCase();
    if (normalized.length === 0) return err(new UserError(UserErrorCode.invalidEmail, 'e-mail is required', 'email'));
    if (normalized.length > maxEmailLength) {
      return err(new UserError(UserErrorCode.invalidEmail, `e-mail is longer than ${maxEmailLength} characters`, 'email'));
    }
    if (!emailPattern.test(normalized)) return err(new UserError(UserErrorCode.invalidEmail, 'e-mail is not a valid address', 'email'));
    return ok(new Email(normalized));
  }

  /**
   * Rebuilds an address read back from storage.
   *
   * @throws {InvariantViolationError} when the stored value is not a valid normalized address.
   */
  static restore(stored: string): Email {
    const result = Email.create(stored);
    if (!result.ok || result.value.value !== stored) throw new InvariantViolationError(`stored e-mail ${JSON.stringify(stored)} is invalid`);
    return result.value;
  }

  /** True when both are the same address. */
  equals(other: Email): boolean {
    return this.value === other.value;
  }

  /** The normalized address. */
  toString(): string {
    return this.value;
  }
}
