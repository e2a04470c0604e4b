import { OrderError } from './order.errors.js';

/** Most units of one SKU in one order. */
export const maxQuantityPerLine = 100;

/**
 * One line of an order: a SKU, how many, and the catalog's unit price in cents when the order was
 * placed. Immutable; validates itself.
 */
export class OrderLine {
  private constructor(
    readonly sku: string,
    readonly quantity: number,
    readonly unitPriceCents: number,
  ) {}

  /**
   * @throws {OrderError} `ORDER.INVALID_ITEMS` when the SKU is empty, the quantity is not an
   * integer in 1..{@link maxQuantityPerLine}, or the price is not a positive integer of cents.
   */
  static of(props: { sku: string; quantity: number; unitPriceCents: number }): OrderLine {
    if (props.sku.trim() === '') throw new OrderError('ORDER.INVALID_ITEMS', 'A line needs a SKU');
    if (!Number.isInteger(props.quantity) || props.quantity < 1 || props.quantity > maxQuantityPerLine) {
      throw new OrderError('ORDER.INVALID_ITEMS', `Quantity of ${props.sku} must be an integer from 1 to ${maxQuantityPerLine}, got ${props.quantity}`, [props.sku]);
    }
    if (!Number.isInteger(props.unitPriceCents) || props.unitPriceCents < 1) {
      throw new OrderError('ORDER.INVALID_ITEMS', `Unit price of ${props.sku} must be a positive number of cents`, [props.sku]);
    }
    return new OrderLine(props.sku, props.quantity, props.unitPriceCents);
  }

  /** quantity × unit price, in cents. */
  get subtotalCents(): number {
    return this.quantity * this.unitPriceCents;
  }
}
