import { describe, expect, it } from 'vitest';
import { InvalidAmountError } from './domain-errors.js';
import { Money } from './money.value-object.js';

describe('Money', () => {
  it('holds whole non-negative cents', () => {
    expect(Money.ofCents(0).cents).toBe(0);
    expect(Money.ofCents(1500).cents).toBe(1500);
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1])('rejects %s cents', (cents) => {
    expect(() => Money.ofCents(cents)).toThrow(InvalidAmountError);
  });

  it('covers an equal or smaller amount only', () => {
    expect(Money.ofCents(100).covers(Money.ofCents(100))).toBe(true);
    expect(Money.ofCents(100).covers(Money.ofCents(99))).toBe(true);
    expect(Money.ofCents(100).covers(Money.ofCents(101))).toBe(false);
  });

  it('adds and subtracts without going negative', () => {
    expect(Money.ofCents(100).add(Money.ofCents(50)).cents).toBe(150);
    expect(Money.ofCents(100).subtract(Money.ofCents(40)).cents).toBe(60);
    expect(() => Money.ofCents(10).subtract(Money.ofCents(11))).toThrow(InvalidAmountError);
  });

  it('compares by value', () => {
    expect(Money.ofCents(7).equals(Money.ofCents(7))).toBe(true);
    expect(Money.ofCents(7).equals(Money.zero)).toBe(false);
  });
});
