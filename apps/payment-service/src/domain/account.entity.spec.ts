import { describe, expect, it } from 'vitest';
import { Account } from './account.entity.js';
import { InsufficientFundsError } from './domain-errors.js';
import { Money } from './money.value-object.js';

const userId = '7f1c3a52-8a4e-4f0e-9d3b-2a4c5e6f7a8b';

describe('Account', () => {
  it('opens with the starting balance in USD', () => {
    const opened = new Date('2025-01-01T00:00:00Z');
    const account = Account.open(userId, Money.ofCents(50_000), opened);
    expect(account.userId).toBe(userId);
    expect(account.balance.cents).toBe(50_000);
    expect(account.currency).toBe('USD');
    expect(account.createdAt).toEqual(opened);
  });

  it('debits when the balance covers the amount, down to zero', () => {
    const account = Account.open(userId, Money.ofCents(5_000));
    const first = account.debit(Money.ofCents(3_000));
    expect(first).toEqual({ ok: true, value: Money.ofCents(2_000) });
    expect(account.debit(Money.ofCents(2_000)).ok).toBe(true);
    expect(account.balance.cents).toBe(0);
  });

  it('refuses a debit the balance does not cover and keeps the balance', () => {
    const account = Account.open(userId, Money.ofCents(1_000));
    const result = account.debit(Money.ofCents(1_001));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(InsufficientFundsError);
    expect(result.error.code).toBe('PAYMENT.INSUFFICIENT_FUNDS');
    expect(result.error.declineCode).toBe('INSUFFICIENT_FUNDS');
    expect(result.error.balanceCents).toBe(1_000);
    expect(account.balance.cents).toBe(1_000);
  });

  it('credits back and moves updated_at', () => {
    const account = Account.open(userId, Money.ofCents(100), new Date('2025-01-01T00:00:00Z'));
    const later = new Date('2025-01-02T00:00:00Z');
    expect(account.credit(Money.ofCents(250), later).cents).toBe(350);
    expect(account.updatedAt).toEqual(later);
  });
});
