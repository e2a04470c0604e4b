import type { Queryable } from '@msr/service-defaults';
import type { Order } from '../domain/order.entity.js';
import type { Product } from '../domain/product.entity.js';

/** The catalog (table `products`). */
export interface ProductRepository {
  /** Every product, by SKU. */
  list(db: Queryable): Promise<Product[]>;
  /** Unit prices in cents of those of `skus` that exist. */
  pricesOf(db: Queryable, skus: readonly string[]): Promise<Map<string, number>>;
}

/** An order and the id of the saga deciding it. */
export interface OrderRecord {
  order: Order;
  sagaId: string;
}

/**
 * Orders and their lines (tables `orders`, `order_items`). Inside a transaction the writes
 * (`insert`, `save`) may be sent without waiting for their answers (pipelining): a failing write
 * then fails the transaction's COMMIT.
 */
export interface OrderRepository {
  insert(db: Queryable, order: Order, sagaId: string): Promise<void>;
  findById(db: Queryable, id: string): Promise<OrderRecord | undefined>;
  /** A user's orders, newest first, at most `limit`. */
  listByUser(db: Queryable, userId: string, limit: number): Promise<OrderRecord[]>;
  /** Writes the order's status and reason. */
  save(db: Queryable, order: Order): Promise<void>;
}

/** A unit count of one SKU. */
export interface SkuQuantity {
  sku: string;
  quantity: number;
}

/** A SKU an order wanted more of than there was. */
export interface Shortage {
  sku: string;
  requested: number;
  available: number;
}

/** The outcome of {@link InventoryRepository.reserve}. */
export type ReservationResult = { ok: true } | { ok: false; shortages: Shortage[] };

/**
 * Stock reservations (tables `products`, `reservations`): the PlaceOrder saga's semantic lock.
 * Reserved units leave the stock at once and are held `RESERVED` (pending) until the saga ends:
 * `CONFIRMED` when the order is approved, given back (`RELEASED`) when it is rejected. As with
 * {@link OrderRepository}, writes whose outcome nothing reads may fail at COMMIT instead.
 */
export interface InventoryRepository {
  /**
   * Takes every item's quantity from stock for the order, all or nothing: when any SKU is short,
   * nothing is taken and the shortages are returned. Reserving for an order that already holds
   * a reservation takes nothing more (the saga step may run twice).
   */
  reserve(tx: Queryable, orderId: string, items: readonly SkuQuantity[]): Promise<ReservationResult>;
  /**
   * Gives back what the order holds, once: a second release gives back nothing.
   *
   * @returns what was given back.
   */
  release(tx: Queryable, orderId: string): Promise<SkuQuantity[]>;
  /**
   * Turns the order's pending reservation into a sale (the order was approved): it can no longer
   * be released. Confirming twice changes nothing.
   */
  confirm(tx: Queryable, orderId: string): Promise<void>;
}

/** What user-service says about a user. */
export type UserLookup = { found: false } | { found: true; status: string };

/** user-service, as the PlaceOrder saga needs it. */
export interface UserDirectory {
  /**
   * Looks a user up.
   *
   * @throws on a transient failure (timeout, open breaker, no instance, 5xx): the saga retries;
   * `NonRetryableError` for an answer no retry can fix.
   */
  lookup(userId: string): Promise<UserLookup>;
}
