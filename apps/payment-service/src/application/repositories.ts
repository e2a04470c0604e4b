import type { AccountRepository } from '../domain/account.repository.js';
import type { PaymentRepository } from '../domain/payment.repository.js';

/**
 * The repositories a use case works with, all bound to one database transaction (or to the pool
 * for read-only queries), so that a balance change, a payment and the outgoing messages commit
 * together.
 */
export interface PaymentRepositories {
  accounts: AccountRepository;
  payments: PaymentRepository;
}
