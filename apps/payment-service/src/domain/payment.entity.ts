import { randomUUID } from 'node:crypto';
import {
  PaymentAlreadyRefundedError,
  PaymentNotRefundableError,
  type AccountNotFoundError,
  type DeclineCode,
  type InsufficientFundsError,
  type OrderCancelledError,
} from './domain-errors.js';
import type { Money } from './money.value-object.js';
import { fail, ok, type Result } from './result.js';

/**
 * Where a payment stands. `AUTHORIZED` → `REFUNDED` is the only transition; `DECLINED` and
 * `REFUNDED` are terminal.
 */
export type PaymentStatus = 'AUTHORIZED' | 'DECLINED' | 'REFUNDED';

/** Why a payment was declined: the code of `payment.declined.reason_code` and a sentence. */
export interface PaymentDecline {
  code: DeclineCode;
  message: string;
}

/** The state of a {@link Payment}, as stored. */
export interface PaymentProps {
  id: string;
  orderId: string;
  userId: string;
  amount: Money;
  status: PaymentStatus;
  /** Present exactly when the status is `DECLINED`. */
  decline?: PaymentDecline;
  createdAt: Date;
  updatedAt: Date;
}

/** What an authorization attempt is about. */
export interface PaymentRequest {
  orderId: string;
  userId: string;
  amount: Money;
}

/**
 * The outcome of one authorization attempt for one order. There is exactly one payment per order
 * (authorized or declined), so a repeated command finds the recorded outcome instead of
 * debiting again; a declined payment is the remembered "no".
 */
export class Payment {
  private constructor(private props: PaymentProps) {}

  /** Records an authorization: the account was debited by `amount`. */
  static authorize(request: PaymentRequest, now: Date = new Date()): Payment {
    return new Payment({ id: randomUUID(), ...request, status: 'AUTHORIZED', createdAt: now, updatedAt: now });
  }

  /** Records a declined authorization: no money moved. */
  static decline(request: PaymentRequest, reason: InsufficientFundsError | AccountNotFoundError | OrderCancelledError, now: Date = new Date()): Payment {
    return new Payment({
      id: randomUUID(),
      ...request,
      status: 'DECLINED',
      decline: { code: reason.declineCode, message: reason.message },
      createdAt: now,
      updatedAt: now,
    });
  }

  /** Rebuilds a payment from storage. */
  static restore(props: PaymentProps): Payment {
    return new Payment({ ...props });
  }

  get id(): string {
    return this.props.id;
  }

  get orderId(): string {
    return this.props.orderId;
  }

  get userId(): string {
    return this.props.userId;
  }

  get amount(): Money {
    return this.props.amount;
  }

  get status(): PaymentStatus {
    return this.props.status;
  }

  get decline(): PaymentDecline | undefined {
    return this.props.decline;
  }

  get createdAt(): Date {
    return this.props.createdAt;
  }

  get updatedAt(): Date {
    return this.props.updatedAt;
  }

  /**
   * Marks an authorized payment refunded; the caller credits {@link amount} back to the account.
   *
   * @returns ok, or {@link PaymentAlreadyRefundedError} (nothing to credit again) or
   * {@link PaymentNotRefundableError} for a declined payment (no money moved).
   */
  refund(now: Date = new Date()): Result<Money, PaymentAlreadyRefundedError | PaymentNotRefundableError> {
    switch (this.props.status) {
      case 'AUTHORIZED':
        this.props = { ...this.props, status: 'REFUNDED', updatedAt: now };
        return ok(this.props.amount);
      case 'REFUNDED':
        return fail(new PaymentAlreadyRefundedError(this.props.id));
      case 'DECLINED':
        return fail(new PaymentNotRefundableError(this.props.id, this.props.status));
    }
  }
}
