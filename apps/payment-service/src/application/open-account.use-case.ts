import { Account } from '../domain/account.entity.js';
import type { AccountRepository } from '../domain/account.repository.js';
import type { Money } from '../domain/money.value-object.js';

/** What {@link openAccount} needs: the user and the balance every new account starts with. */
export interface OpenAccountInput {
  userId: string;
  startingBalance: Money;
}

/** The account after {@link openAccount}; `opened` is false when it existed already. */
export interface OpenAccountOutcome {
  account: Account;
  opened: boolean;
}

/**
 * Opens an account for a new user (on `user.created`). Idempotent: a user who already has an
 * account keeps it and its balance untouched.
 */
export async function openAccount(accounts: AccountRepository, input: OpenAccountInput, now: Date = new Date()): Promise<OpenAccountOutcome> {
  const account = Account.open(input.userId, input.startingBalance, now);
  if (await accounts.insertIfAbsent(account)) return { account, opened: true };
  const existing = await accounts.findByUserId(input.userId);
  if (existing === undefined) throw new Error(`account of user ${input.userId} vanished while being opened`);
  return { account: existing, opened: false };
}
