import type { Payment } from './payment.entity.js';

/** Persistence port for {@link Payment}s: at most one payment per order. */
export interface PaymentRepository {
  /**
   * Serializes work on one order until the surrounding transaction ends, so two commands for the
   * same order (different message ids) see each other's outcome instead of racing.
   */
  lockOrder(orderId: string): Promise<void>;
  findById(id: string): Promise<Payment | undefined>;
  findByOrderId(orderId: string): Promise<Payment | undefined>;
  /**
   * Stores a new payment. @throws when the order already has one (unique order id); inside a
   * transaction the write may be sent without waiting, and then that failure fails the COMMIT.
   */
  insert(payment: Payment): Promise<void>;
  /** Stores a payment's new status. @throws when the payment does not exist. */
  update(payment: Payment): Promise<void>;
  /**
   * Remembers that the order's payment was cancelled before any authorization arrived (a refund
   * overtook it). Recording it twice keeps the first.
   */
  recordCancellation(orderId: string, reason: string, now: Date): Promise<void>;
  /** True when {@link recordCancellation} was called for the order. */
  isCancelled(orderId: string): Promise<boolean>;
}
