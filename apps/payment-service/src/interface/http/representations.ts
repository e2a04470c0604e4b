import type { Account } from '../../domain/account.entity.js';
import type { DeclineCode } from '../../domain/domain-errors.js';
import type { Payment, PaymentStatus } from '../../domain/payment.entity.js';

/** The JSON of an account: `GET /accounts/{user_id}`. Amounts in cents, times RFC 3339. */
export interface AccountJson {
  user_id: string;
  balance_cents: number;
  currency: 'USD';
  created_at: string;
  updated_at: string;
}

/**
 * The JSON of a payment: `GET /payments/{id}`, `GET /payments?order_id=`. `decline_reason` (the
 * code of `payment.declined.reason_code`) and `decline_detail` (a sentence) appear only on
 * `DECLINED` payments.
 */
export interface PaymentJson {
  id: string;
  order_id: string;
  user_id: string;
  amount_cents: number;
  status: PaymentStatus;
  decline_reason?: DeclineCode;
  decline_detail?: string;
  created_at: string;
  updated_at: string;
}

/** Renders an {@link Account} as {@link AccountJson}. */
export function accountJson(account: Account): AccountJson {
  return {
    user_id: account.userId,
    balance_cents: account.balance.cents,
    currency: account.currency,
    created_at: account.createdAt.toISOString(),
    updated_at: account.updatedAt.toISOString(),
  };
}

/** Renders a {@link Payment} as {@link PaymentJson}. */
export function paymentJson(payment: Payment): PaymentJson {
  return {
    id: payment.id,
    order_id: payment.orderId,
    user_id: payment.userId,
    amount_cents: payment.amount.cents,
    status: payment.status,
    ...(payment.decline === undefined ? {} : { decline_reason: payment.decline.code, decline_detail: payment.decline.message }),
    created_at: payment.createdAt.toISOString(),
    updated_at: payment.updatedAt.toISOString(),
  };
}
