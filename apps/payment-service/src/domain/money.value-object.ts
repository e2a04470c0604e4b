import { InvalidAmountError } from './domain-errors.js';

/**
 * An amount of money in integer minor units (cents of USD, the one currency here). Immutable;
 * validates itself, so a `Money` can never be negative, fractional or beyond 2^53.
 */
export class Money {
  private constructor(readonly cents: number) {}

  /**
   * @param cents - a non-negative safe integer.
   * @throws {InvalidAmountError} for anything else (a broken invariant, not a business outcome).
   */
  static ofCents(cents: number): Money {
    if (!Number.isSafeInteger(cents) || cents < 0) throw new InvalidAmountError(cents);
    return new Money(cents);
  }

  /** No money. */
  static readonly zero = new Money(0);

  /** True when this amount is at least `other`. */
  covers(other: Money): boolean {
    return this.cents >= other.cents;
  }

  /** The sum. @throws {InvalidAmountError} when it exceeds the safe integer range. */
  add(other: Money): Money {
    return Money.ofCents(this.cents + other.cents);
  }

  /** The difference. @throws {InvalidAmountError} when `other` is larger (use {@link covers} first). */
  subtract(other: Money): Money {
    return Money.ofCents(this.cents - other.cents);
  }

  /** True when both are the same amount (value objects compare by value). */
  equals(other: Money): boolean {
    return this.cents === other.cents;
  }
}
