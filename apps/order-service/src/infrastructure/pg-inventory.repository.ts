import { sendInTransaction, type Queryable } from '@msr/service-defaults';
import type { InventoryRepository, ReservationResult, Shortage, SkuQuantity } from '../application/ports.js';

/**
 * {@link InventoryRepository} on PostgreSQL. A reservation records what the order holds in
 * `reservations` (`RESERVED`: the semantic lock), then locks the products' rows in SKU order (so
 * two sagas wanting the same SKUs never deadlock), checks every quantity and decrements the stock;
 * a shortage leaves nothing behind. The reservation rows make the release
 * exact and idempotent. `CHECK (stock >= 0)` backs the check up. Stock on hand plus reserved and
 * confirmed units is always the stock the catalog started with.
 */
export class PgInventoryRepository implements InventoryRepository {
  async reserve(tx: Queryable, orderId: string, items: readonly SkuQuantity[]): Promise<ReservationResult> {
    const wanted = [...items].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
    const skus = wanted.map((item) => item.sku);
    const quantities = wanted.map((item) => item.quantity);
    // The order's reservation first: its primary key (order_id, sku) makes a second reservation for
    // the same order (the step run twice, even concurrently) wait for the first and find it.
    // Then the stock rows, locked in SKU order (no deadlock between orders sharing SKUs) and as
    // late as possible: a popular SKU's row is the one place concurrent sagas queue. NO KEY
    // UPDATE, not UPDATE: inserts that merely reference the product (order lines, reservations)
    // need not wait for it. Both asked at once (one round trip); when the order turns out to hold
    // its reservation already, the row locks are merely held until the commit.
    const [{ rowCount }, { rows }] = await Promise.all([
      tx.query({
        name: 'reservations_reserve',
        text: `INSERT INTO reservations (order_id, sku, quantity, status, reserved_at)
               SELECT $1, w.sku, w.quantity, 'RESERVED', now() FROM unnest($2::text[], $3::integer[]) AS w(sku, quantity)
               ON CONFLICT (order_id, sku) DO NOTHING`,
        values: [orderId, skus, quantities],
      }),
      tx.query<{ sku: string; stock: number }>({
        name: 'products_lock_stock',
        text: 'SELECT sku, stock FROM products WHERE sku = ANY($1::text[]) ORDER BY sku FOR NO KEY UPDATE',
        values: [skus],
      }),
    ]);
    if (rowCount === 0) return { ok: true };
    if (rowCount !== wanted.length) throw new Error(`order ${orderId} holds part of its reservation only`);
    const stock = new Map(rows.map((row) => [row.sku, row.stock]));
    const shortages: Shortage[] = wanted
      .filter((item) => (stock.get(item.sku) ?? 0) < item.quantity)
      .map((item) => ({ sku: item.sku, requested: item.quantity, available: stock.get(item.sku) ?? 0 }));
    if (shortages.length > 0) {
      await tx.query('DELETE FROM reservations WHERE order_id = $1', [orderId]);
      return { ok: false, shortages };
    }
    // Checked above under the rows' locks: nothing to wait for.
    await sendInTransaction(tx, {
      name: 'products_take_stock',
      text: `UPDATE products p SET stock = p.stock - w.quantity, updated_at = now()
               FROM unnest($1::text[], $2::integer[]) AS w(sku, quantity) WHERE p.sku = w.sku`,
      values: [skus, quantities],
    });
    return { ok: true };
  }

  async release(tx: Queryable, orderId: string): Promise<SkuQuantity[]> {
    const { rows } = await tx.query<SkuQuantity>(
      `UPDATE reservations SET status = 'RELEASED', released_at = now()
        WHERE order_id = $1 AND status = 'RESERVED' RETURNING sku, quantity`,
      [orderId],
    );
    if (rows.length === 0) return [];
    const released = rows.sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
    await tx.query(
      `UPDATE products p SET stock = p.stock + r.quantity, updated_at = now()
         FROM unnest($1::text[], $2::integer[]) AS r(sku, quantity) WHERE p.sku = r.sku`,
      [released.map((row) => row.sku), released.map((row) => row.quantity)],
    );
    return released;
  }

  async confirm(tx: Queryable, orderId: string): Promise<void> {
    await sendInTransaction(tx, {
      name: 'reservations_confirm',
      text: `UPDATE reservations SET status = 'CONFIRMED', confirmed_at = now() WHERE order_id = $1 AND status = 'RESERVED'`,
      values: [orderId],
    });
  }
}
