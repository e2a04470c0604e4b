import type { MessageEnvelope } from '@msr/events';
import type { Logger, Queryable } from '@msr/service-defaults';
import { openAccount } from '../../application/open-account.use-case.js';
import type { Money } from '../../domain/money.value-object.js';
import { PgAccountRepository } from '../../infrastructure/pg-account.repository.js';

/**
 * Handles `user.created` inside the inbox transaction `tx`: opens the user's account with
 * `startingBalance`. A second `user.created` for the same user (even with a new message id)
 * leaves the existing account alone.
 */
export function userCreatedHandler(startingBalance: Money, logger: Logger) {
  return async (event: MessageEnvelope<'user.created'>, tx: Queryable): Promise<void> => {
    const { account, opened } = await openAccount(new PgAccountRepository(tx), { userId: event.payload.user_id, startingBalance });
    if (opened) logger.info({ user_id: account.userId, balance_cents: account.balance.cents }, 'account opened');
  };
}
