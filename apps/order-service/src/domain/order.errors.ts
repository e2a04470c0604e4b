/** Stable codes of the order domain's errors; `mapError` gives each its HTTP status. */
export type OrderErrorCode = 'ORDER.NOT_FOUND' | 'ORDER.UNKNOWN_SKU' | 'ORDER.INVALID_ITEMS' | 'ORDER.INVALID_TRANSITION';

/**
 * A broken order invariant or a request the domain cannot honour (Sairyss' domain errors with a
 * stable string code). `skus` names the SKUs concerned, when there are any.
 */
export class OrderError extends Error {
  constructor(
    readonly code: OrderErrorCode,
    message: string,
    readonly skus: readonly string[] = [],
  ) {
    super(message);
    this.name = 'OrderError';
  }
}

/**
 * Why the PlaceOrder saga rejects an order: expected business outcomes, returned by saga steps
 * (never thrown) and stored as the order's `reason_code`. Payment declines arrive as
 * `PAYMENT.<decline code>`, e.g. `PAYMENT.INSUFFICIENT_FUNDS`.
 */
export const RejectionCodes = {
  userNotFound: 'USER.NOT_FOUND',
  userNotActive: 'USER.NOT_ACTIVE',
  outOfStock: 'ORDER.OUT_OF_STOCK',
} as const;
