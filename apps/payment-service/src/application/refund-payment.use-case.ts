import type { Payment } from '../domain/payment.entity.js';
import type { PaymentRepositories } from './repositories.js';

/** A `payment.refund` command's content. */
export interface RefundPaymentInput {
  orderId: string;
  /** Why the order's payment is refunded (e.g. `order rejected`); kept when there is nothing to refund yet. */
  reason?: string;
}

/**
 * What a refund did:
 * - `refunded`: the authorized payment is now `REFUNDED` and its amount was credited back;
 * - `already_refunded`: it was refunded before; nothing was credited this time;
 * - `nothing_to_refund`: the order has no authorized payment (declined, or never authorized).
 *   When no authorization has arrived at all, the cancellation is remembered: a later authorize
 *   for the order (a refund can overtake its authorize) is declined instead of debiting.
 */
export type RefundOutcome =
  | { kind: 'refunded'; payment: Payment }
  | { kind: 'already_refunded'; payment: Payment }
  | { kind: 'nothing_to_refund'; payment: Payment | undefined };

/**
 * Refunds the payment of an order (the PlaceOrder saga's compensation of authorize-payment):
 * credits the amount back once, however often the command arrives.
 *
 * Run it inside a transaction: the order lock and the credit hold until commit.
 *
 * @throws when an authorized payment's account is missing (a broken invariant).
 */
export async function refundPayment(
  { accounts, payments }: PaymentRepositories,
  input: RefundPaymentInput,
  now: Date = new Date(),
): Promise<RefundOutcome> {
  await payments.lockOrder(input.orderId);
  const payment = await payments.findByOrderId(input.orderId);
  if (payment === undefined) {
    await payments.recordCancellation(input.orderId, input.reason ?? 'refunded before any authorization', now);
    return { kind: 'nothing_to_refund', payment };
  }

  const refund = payment.refund(now);
  if (!refund.ok) {
    switch (refund.error.code) {
      case 'PAYMENT.ALREADY_REFUNDED':
        return { kind: 'already_refunded', payment };
      case 'PAYMENT.NOT_REFUNDABLE':
        return { kind: 'nothing_to_refund', payment };
    }
  }

  const account = await accounts.findByUserId(payment.userId);
  if (account === undefined) throw new Error(`account of user ${payment.userId} is missing for authorized payment ${payment.id}`);
  // The entity checks the rule (the new balance must be a valid amount); storage applies the same
  // credit relative to the stored balance, which concurrent debits may have moved since the read.
  account.credit(refund.value, now);
  await accounts.credit(payment.userId, refund.value, now);
  await payments.update(payment);
  return { kind: 'refunded', payment };
}
