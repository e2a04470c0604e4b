import type { Account } from '../domain/account.entity.js';
import type { AccountRepository } from '../domain/account.repository.js';
import { AccountNotFoundError } from '../domain/domain-errors.js';

/**
 * The account of a user (`GET /accounts/{user_id}`).
 *
 * @throws {AccountNotFoundError} when the user has none.
 */
export async function getAccount(accounts: AccountRepository, userId: string): Promise<Account> {
  const account = await accounts.findByUserId(userId);
  if (account === undefined) throw new AccountNotFoundError(userId);
  return account;
}
