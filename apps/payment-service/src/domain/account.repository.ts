import type { Account } from './account.entity.js';
import type { Money } from './money.value-object.js';

/**
 * Persistence port for {@link Account}s. Balance changes are relative and guarded in storage, so
 * concurrent debits of one account can never take it below zero even when each caller read the
 * same balance.
 */
export interface AccountRepository {
  /** Stores a new account unless the user already has one; true when it was stored. */
  insertIfAbsent(account: Account): Promise<boolean>;
  findByUserId(userId: string): Promise<Account | undefined>;
  /**
   * Subtracts `amount` from the stored balance in one step, only if the stored balance covers it.
   *
   * @returns false when it did not (the account is missing, or a concurrent debit got there first).
   */
  debitIfCovered(userId: string, amount: Money, now: Date): Promise<boolean>;
  /**
   * Adds `amount` to the stored balance in one step.
   *
   * @throws when the account does not exist.
   */
  credit(userId: string, amount: Money, now: Date): Promise<void>;
}
