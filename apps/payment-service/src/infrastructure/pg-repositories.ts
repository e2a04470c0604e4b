import type { Queryable } from '@msr/service-defaults';
import type { PaymentRepositories } from '../application/repositories.js';
import { PgAccountRepository } from './pg-account.repository.js';
import { PgPaymentRepository } from './pg-payment.repository.js';

/**
 * The PostgreSQL repositories bound to `db`: a transaction client for the command use cases (so
 * their writes commit with the inbox record and the outbox messages), the pool for queries.
 */
export function pgRepositories(db: Queryable): PaymentRepositories {
  return { accounts: new PgAccountRepository(db), payments: new PgPaymentRepository(db) };
}
