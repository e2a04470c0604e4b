import type { Account } from '../domain/account.entity.js';
import { AccountNotFoundError, InsufficientFundsError, OrderCancelledError } from '../domain/domain-errors.js';
import { Money } from '../domain/money.value-object.js';
import { Payment, type PaymentRequest } from '../domain/payment.entity.js';
import type { PaymentRepositories } from './repositories.js';

/** A `payment.authorize` command's content; amounts in cents. */
export interface AuthorizePaymentInput {
  orderId: string;
  userId: string;
  amountCents: number;
}

/**
 * The payment that answers an authorization: `AUTHORIZED` or `DECLINED`. `replayed` is true when
 * the order had been answered before and this is that earlier outcome, unchanged.
 */
export interface AuthorizationOutcome {
  payment: Payment;
  replayed: boolean;
}

/**
 * Authorizes a payment for an order, at most once per order: debits the user's account when the
 * balance covers the amount and records an `AUTHORIZED` payment; otherwise records a `DECLINED`
 * one (insufficient funds, no account, or the order's payment was cancelled by a refund that
 * came first). A repeated command for the same order, whatever its message id, gets the recorded
 * outcome back and moves no money.
 *
 * Run it inside a transaction: the order lock and the debit hold until commit.
 *
 * @throws {InvalidAmountError} when the amount is not a whole, non-negative number of cents.
 */
export async function authorizePayment(
  { accounts, payments }: PaymentRepositories,
  input: AuthorizePaymentInput,
  now: Date = new Date(),
): Promise<AuthorizationOutcome> {
  const request = { orderId: input.orderId, userId: input.userId, amount: Money.ofCents(input.amountCents) };
  await payments.lockOrder(request.orderId);
  // Everything the decision reads, asked at once: on a pipelining connection, one round trip.
  const [earlier, cancelled, account] = await Promise.all([
    payments.findByOrderId(request.orderId),
    payments.isCancelled(request.orderId),
    accounts.findByUserId(request.userId),
  ]);
  if (earlier !== undefined) return { payment: earlier, replayed: true };

  const payment = cancelled ? Payment.decline(request, new OrderCancelledError(request.orderId), now) : await decide(accounts, account, request, now);
  await payments.insert(payment);
  return { payment, replayed: false };
}

async function decide(accounts: PaymentRepositories['accounts'], account: Account | undefined, request: PaymentRequest, now: Date): Promise<Payment> {
  if (account === undefined) return Payment.decline(request, new AccountNotFoundError(request.userId), now);
  const debit = account.debit(request.amount, now);
  if (!debit.ok) return Payment.decline(request, debit.error, now);
  // The balance read above may be stale by now: the guarded debit in storage is what decides
  // between concurrent authorizations of one account.
  if (!(await accounts.debitIfCovered(request.userId, request.amount, now))) {
    const current = await accounts.findByUserId(request.userId);
    return Payment.decline(request, new InsufficientFundsError(request.userId, current?.balance.cents ?? 0, request.amount.cents), now);
  }
  return Payment.authorize(request, now);
}
