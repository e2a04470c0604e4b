/**
 * Every error code payment-service's domain can raise. The HTTP layer maps each to a status in one
 * switch that ends in an exhaustiveness check, so adding a code here without mapping it fails the
 * type check.
 */
export type PaymentDomainErrorCode =
  | 'MONEY.INVALID_AMOUNT'
  | 'ACCOUNT.NOT_FOUND'
  | 'PAYMENT.INSUFFICIENT_FUNDS'
  | 'PAYMENT.NOT_FOUND'
  | 'PAYMENT.ALREADY_REFUNDED'
  | 'PAYMENT.NOT_REFUNDABLE'
  | 'PAYMENT.ORDER_CANCELLED';

/** Every reason an authorization is declined for, as it travels in `payment.declined.reason_code`. */
export const declineCodes = ['INSUFFICIENT_FUNDS', 'ACCOUNT_NOT_FOUND', 'ORDER_CANCELLED'] as const;

/** Why an authorization was declined, as it travels in `payment.declined.reason_code`. */
export type DeclineCode = (typeof declineCodes)[number];

/** Base class of payment-service's domain errors: a stable `code` and a human-readable message. */
export abstract class PaymentDomainError extends Error {
  abstract readonly code: PaymentDomainErrorCode;
}

/**
 * An amount of money that is not a non-negative safe integer number of cents. A broken invariant:
 * thrown, never returned.
 */
export class InvalidAmountError extends PaymentDomainError {
  readonly code = 'MONEY.INVALID_AMOUNT';

  constructor(readonly amount: unknown) {
    super(`${String(amount)} is not a non-negative whole number of cents`);
    this.name = 'InvalidAmountError';
  }
}

/** No account exists for the user; payments for them are declined with `ACCOUNT_NOT_FOUND`. */
export class AccountNotFoundError extends PaymentDomainError {
  readonly code = 'ACCOUNT.NOT_FOUND';
  readonly declineCode: DeclineCode = 'ACCOUNT_NOT_FOUND';

  constructor(readonly userId: string) {
    super(`No account for user ${userId}`);
    this.name = 'AccountNotFoundError';
  }
}

/** The balance does not cover a debit; the payment is declined with `INSUFFICIENT_FUNDS`. */
export class InsufficientFundsError extends PaymentDomainError {
  readonly code = 'PAYMENT.INSUFFICIENT_FUNDS';
  readonly declineCode: DeclineCode = 'INSUFFICIENT_FUNDS';

  constructor(
    readonly userId: string,
    /** The balance at the time of the attempt, in cents. */
    readonly balanceCents: number,
    /** The amount asked for, in cents. */
    readonly amountCents: number,
  ) {
    super(`Balance of ${balanceCents} cents does not cover ${amountCents} cents`);
    this.name = 'InsufficientFundsError';
  }
}

/**
 * The order's payment was cancelled (a refund came first) before this authorization arrived:
 * declined with `ORDER_CANCELLED`, so an order already rejected is never charged.
 */
export class OrderCancelledError extends PaymentDomainError {
  readonly code = 'PAYMENT.ORDER_CANCELLED';
  readonly declineCode: DeclineCode = 'ORDER_CANCELLED';

  constructor(readonly orderId: string) {
    super(`The payment of order ${orderId} was cancelled before it was authorized`);
    this.name = 'OrderCancelledError';
  }
}

/** No payment with the given id. */
export class PaymentNotFoundError extends PaymentDomainError {
  readonly code = 'PAYMENT.NOT_FOUND';

  constructor(readonly paymentId: string) {
    super(`No payment with id ${paymentId}`);
    this.name = 'PaymentNotFoundError';
  }
}

/** The payment was refunded before; refunding again must not credit twice. */
export class PaymentAlreadyRefundedError extends PaymentDomainError {
  readonly code = 'PAYMENT.ALREADY_REFUNDED';

  constructor(readonly paymentId: string) {
    super(`Payment ${paymentId} is already refunded`);
    this.name = 'PaymentAlreadyRefundedError';
  }
}

/** Only an authorized payment can be refunded; a declined one never moved money. */
export class PaymentNotRefundableError extends PaymentDomainError {
  readonly code = 'PAYMENT.NOT_REFUNDABLE';

  constructor(
    readonly paymentId: string,
    readonly status: string,
  ) {
    super(`Payment ${paymentId} is ${status} and cannot be refunded`);
    this.name = 'PaymentNotRefundableError';
  }
}
