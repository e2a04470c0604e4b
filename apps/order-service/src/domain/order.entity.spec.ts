import { describe, expect, it } from 'vitest';
import { maxLinesPerOrder, Order } from './order.entity.js';
import { OrderError } from './order.errors.js';
import { OrderLine } from './order-line.value-object.js';

const now = new Date('2025-03-01T10:00:00.000Z');
const later = new Date('2025-03-01T10:00:05.000Z');
const line = (sku: string, quantity: number, unitPriceCents: number) => OrderLine.of({ sku, quantity, unitPriceCents });
const place = (lines = [line('SKU-BOOK', 2, 4999), line('SKU-MUG', 1, 1250)]) =>
  Order.place({ id: 'a6f0d1a2-1111-4c3b-9d7e-0a1b2c3d4e5f', userId: '0c1d2e3f-2222-4a5b-8c6d-7e8f9a0b1c2d', lines, now });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof OrderError ? error.code : 'not an OrderError';
  }
}

describe('Order', () => {
  it('is placed PENDING with a total derived from its lines', () => {
    const order = place();
    expect(order.status).toBe('PENDING');
    expect(order.totalCents).toBe(2 * 4999 + 1250);
    expect(order.reasonCode).toBeNull();
    expect(order.createdAt).toEqual(now);
  });

  it('refuses no lines, too many lines and a SKU on two lines', () => {
    expect(codeOf(() => place([]))).toBe('ORDER.INVALID_ITEMS');
    expect(codeOf(() => place(Array.from({ length: maxLinesPerOrder + 1 }, (_, i) => line(`SKU-${i}`, 1, 100))))).toBe('ORDER.INVALID_ITEMS');
    expect(() => place([line('SKU-BOOK', 1, 4999), line('SKU-BOOK', 2, 4999)])).toThrow(/SKU-BOOK appears on more than one line/);
  });

  it('is approved once; approving again changes nothing', () => {
    const order = place();
    expect(order.approve(later)).toBe(true);
    expect(order.status).toBe('APPROVED');
    expect(order.updatedAt).toEqual(later);
    expect(order.approve(new Date())).toBe(false);
    expect(order.updatedAt).toEqual(later);
  });

  it('is rejected with a reason code and reason; rejecting again changes nothing', () => {
    const order = place();
    expect(order.reject('ORDER.OUT_OF_STOCK', 'Not enough SKU-MUG', later)).toBe(true);
    expect(order).toMatchObject({ status: 'REJECTED', reasonCode: 'ORDER.OUT_OF_STOCK', reason: 'Not enough SKU-MUG' });
    expect(order.reject('OTHER', 'other', new Date())).toBe(false);
    expect(order.reasonCode).toBe('ORDER.OUT_OF_STOCK');
  });

  it('never goes from APPROVED to REJECTED or back', () => {
    const approved = place();
    approved.approve(later);
    expect(codeOf(() => approved.reject('X', 'x', later))).toBe('ORDER.INVALID_TRANSITION');
    const rejected = place();
    rejected.reject('X', 'x', later);
    expect(codeOf(() => rejected.approve(later))).toBe('ORDER.INVALID_TRANSITION');
  });
});

describe('OrderLine', () => {
  it('computes its subtotal in cents', () => {
    expect(line('SKU-KEYBOARD', 3, 12900).subtotalCents).toBe(38700);
  });

  it('refuses a quantity that is not a whole number from 1 to 100, and a non-positive price', () => {
    for (const quantity of [0, -1, 1.5, 101, Number.NaN]) expect(codeOf(() => line('SKU-BOOK', quantity, 4999)), `quantity ${quantity}`).toBe('ORDER.INVALID_ITEMS');
    expect(codeOf(() => line('SKU-BOOK', 1, 0))).toBe('ORDER.INVALID_ITEMS');
    expect(codeOf(() => line(' ', 1, 100))).toBe('ORDER.INVALID_ITEMS');
  });
});
