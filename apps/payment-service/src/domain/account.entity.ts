import { InsufficientFundsError } from './domain-errors.js';
import type { Money } from './money.value-object.js';
import { fail, ok, type Result } from './result.js';

/** The one currency accounts are kept in. */
export const accountCurrency = 'USD';

/** The state of an {@link Account}, as stored. */
export interface AccountProps {
  userId: string;
  balance: Money;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * A user's prepaid account, identified by the user id (one account per user). The balance never
 * goes below zero: {@link Account.debit} refuses what the balance does not cover.
 */
export class Account {
  private constructor(private props: AccountProps) {}

  /** Opens an account for `userId` with `startingBalance` (payment-service does this on `user.created`). */
  static open(userId: string, startingBalance: Money, now: Date = new Date()): Account {
    return new Account({ userId, balance: startingBalance, createdAt: now, updatedAt: now });
  }

  /** Rebuilds an account from storage. */
  static restore(props: AccountProps): Account {
    return new Account({ ...props });
  }

  get userId(): string {
    return this.props.userId;
  }

  get balance(): Money {
    return this.props.balance;
  }

  get currency(): typeof accountCurrency {
    return accountCurrency;
  }

  get createdAt(): Date {
    return this.props.createdAt;
  }

  get updatedAt(): Date {
    return this.props.updatedAt;
  }

  /**
   * Takes `amount` off the balance when the balance covers it.
   *
   * @returns ok with the new balance, or {@link InsufficientFundsError} (the balance is unchanged).
   */
  debit(amount: Money, now: Date = new Date()): Result<Money, InsufficientFundsError> {
    if (!this.props.balance.covers(amount)) {
      return fail(new InsufficientFundsError(this.props.userId, this.props.balance.cents, amount.cents));
    }
    this.props = { ...this.props, balance: this.props.balance.subtract(amount), updatedAt: now };
    return ok(this.props.balance);
  }

  /** Adds `amount` to the balance (a refund) and returns the new balance. */
  credit(amount: Money, now: Date = new Date()): Money {
    this.props = { ...this.props, balance: this.props.balance.add(amount), updatedAt: now };
    return this.props.balance;
  }
}
