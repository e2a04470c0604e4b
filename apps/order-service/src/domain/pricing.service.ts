import { OrderError } from './order.errors.js';
import { OrderLine } from './order-line.value-object.js';

/** What a client asks for: a SKU and how many. Prices never come from the client. */
export interface RequestedItem {
  sku: string;
  quantity: number;
}

/** The outcome of {@link priceItems}: priced lines, or the error naming every unknown SKU. */
export type PricingResult = { ok: true; lines: OrderLine[] } | { ok: false; error: OrderError };

/**
 * Prices requested items at the catalog's unit prices (in cents). An unknown SKU is an expected
 * outcome, returned rather than thrown, so the caller can answer 422 naming each of them.
 *
 * @param catalogPrices - unit price in cents by SKU.
 * @throws {OrderError} `ORDER.INVALID_ITEMS` for a bad quantity (see {@link OrderLine.of}).
 */
export function priceItems(items: readonly RequestedItem[], catalogPrices: ReadonlyMap<string, number>): PricingResult {
  const unknown = items.filter((item) => !catalogPrices.has(item.sku)).map((item) => item.sku);
  if (unknown.length > 0) {
    return { ok: false, error: new OrderError('ORDER.UNKNOWN_SKU', `Unknown SKU${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, unknown) };
  }
  return { ok: true, lines: items.map((item) => OrderLine.of({ sku: item.sku, quantity: item.quantity, unitPriceCents: catalogPrices.get(item.sku)! })) };
}
