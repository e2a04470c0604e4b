import type { Queryable } from '@msr/service-defaults';
import { Account } from '../domain/account.entity.js';
import type { AccountRepository } from '../domain/account.repository.js';
import { Money } from '../domain/money.value-object.js';

interface AccountRow {
  user_id: string;
  // bigint arrives as a string from pg.
  balance_cents: string;
  created_at: Date;
  updated_at: Date;
}

const columns = 'user_id, balance_cents, created_at, updated_at';

function toAccount(row: AccountRow): Account {
  return Account.restore({
    userId: row.user_id,
    balance: Money.ofCents(Number(row.balance_cents)),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
}

/** {@link AccountRepository} on PostgreSQL table `accounts`; pass a transaction client to write. */
export class PgAccountRepository implements AccountRepository {
  constructor(private readonly db: Queryable) {}

  async insertIfAbsent(account: Account): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `INSERT INTO accounts (user_id, balance_cents, currency, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (user_id) DO NOTHING`,
      [account.userId, account.balance.cents, account.currency, account.createdAt, account.updatedAt],
    );
    return rowCount === 1;
  }

  async findByUserId(userId: string): Promise<Account | undefined> {
    const { rows } = await this.db.query<AccountRow>({ name: 'accounts_find_by_user', text: `SELECT ${columns} FROM accounts WHERE user_id = $1`, values: [userId] });
    return rows[0] === undefined ? undefined : toAccount(rows[0]);
  }

  async debitIfCovered(userId: string, amount: Money, now: Date): Promise<boolean> {
    // One conditional UPDATE: under READ COMMITTED a concurrent debit of the same row makes this
    // one wait, then re-evaluate the WHERE against the new balance, so the balance never goes
    // below zero whatever the callers read before.
    const { rowCount } = await this.db.query({
      name: 'accounts_debit_if_covered',
      text: `UPDATE accounts SET balance_cents = balance_cents - $2, updated_at = $3
             WHERE user_id = $1 AND balance_cents >= $2`,
      values: [userId, amount.cents, now],
    });
    return rowCount === 1;
  }

  async credit(userId: string, amount: Money, now: Date): Promise<void> {
    const { rowCount } = await this.db.query(
      `UPDATE accounts SET balance_cents = balance_cents + $2, updated_at = $3 WHERE user_id = $1`,
      [userId, amount.cents, now],
    );
    if (rowCount !== 1) throw new Error(`cannot credit account of user ${userId}: it does not exist`);
  }
}
