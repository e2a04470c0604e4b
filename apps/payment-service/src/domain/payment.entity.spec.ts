import { describe, expect, it } from 'vitest';
import { AccountNotFoundError, InsufficientFundsError } from './domain-errors.js';
import { Money } from './money.value-object.js';
import { Payment } from './payment.entity.js';

const request = {
  orderId: '0b8f6c1e-3d2a-4b5c-8e7f-1a2b3c4d5e6f',
  userId: '7f1c3a52-8a4e-4f0e-9d3b-2a4c5e6f7a8b',
  amount: Money.ofCents(1_500),
};

describe('Payment', () => {
  it('is AUTHORIZED with a fresh id when authorized', () => {
    const payment = Payment.authorize(request);
    expect(payment.status).toBe('AUTHORIZED');
    expect(payment.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(payment.decline).toBeUndefined();
    expect(Payment.authorize(request).id).not.toBe(payment.id);
  });

  it('remembers why it was declined', () => {
    const short = Payment.decline(request, new InsufficientFundsError(request.userId, 100, 1_500));
    expect(short.status).toBe('DECLINED');
    expect(short.decline?.code).toBe('INSUFFICIENT_FUNDS');
    expect(short.decline?.message).toContain('100');
    const unknown = Payment.decline(request, new AccountNotFoundError(request.userId));
    expect(unknown.decline?.code).toBe('ACCOUNT_NOT_FOUND');
  });

  it('refunds an authorized payment once, returning the amount to credit', () => {
    const payment = Payment.authorize(request, new Date('2025-01-01T00:00:00Z'));
    const later = new Date('2025-01-02T00:00:00Z');
    expect(payment.refund(later)).toEqual({ ok: true, value: request.amount });
    expect(payment.status).toBe('REFUNDED');
    expect(payment.updatedAt).toEqual(later);

    const again = payment.refund();
    expect(again.ok).toBe(false);
    if (!again.ok) expect(again.error.code).toBe('PAYMENT.ALREADY_REFUNDED');
    expect(payment.status).toBe('REFUNDED');
  });

  it('never refunds a declined payment', () => {
    const payment = Payment.decline(request, new AccountNotFoundError(request.userId));
    const result = payment.refund();
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('PAYMENT.NOT_REFUNDABLE');
    expect(payment.status).toBe('DECLINED');
  });
});
