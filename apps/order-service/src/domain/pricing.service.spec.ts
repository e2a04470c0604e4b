import { describe, expect, it } from 'vitest';
import { priceItems } from './pricing.service.js';

const catalog = new Map([
  ['SKU-BOOK', 4999],
  ['SKU-MUG', 1250],
]);

describe('priceItems', () => {
  it('prices every line at the catalog price, whatever the client thinks it costs', () => {
    const result = priceItems([{ sku: 'SKU-BOOK', quantity: 2, unit_price_cents: 1 } as { sku: string; quantity: number }, { sku: 'SKU-MUG', quantity: 3 }], catalog);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.lines.map((line) => [line.sku, line.quantity, line.unitPriceCents, line.subtotalCents])).toEqual([
      ['SKU-BOOK', 2, 4999, 9998],
      ['SKU-MUG', 3, 1250, 3750],
    ]);
  });

  it('names every unknown SKU instead of pricing anything', () => {
    const result = priceItems([{ sku: 'SKU-NOPE', quantity: 1 }, { sku: 'SKU-BOOK', quantity: 1 }, { sku: 'SKU-GONE', quantity: 2 }], catalog);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('ORDER.UNKNOWN_SKU');
    expect(result.error.skus).toEqual(['SKU-NOPE', 'SKU-GONE']);
    expect(result.error.message).toBe('Unknown SKUs: SKU-NOPE, SKU-GONE');
  });
});
