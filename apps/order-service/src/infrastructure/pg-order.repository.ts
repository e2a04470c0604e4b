import { sendInTransaction, type Queryable } from '@msr/service-defaults';
import type { OrderRecord, OrderRepository } from '../application/ports.js';
import { Order, type OrderStatus } from '../domain/order.entity.js';
import { OrderLine } from '../domain/order-line.value-object.js';

interface OrderRow {
  id: string;
  user_id: string;
  status: OrderStatus;
  saga_id: string;
  reason_code: string | null;
  reason: string | null;
  created_at: Date;
  updated_at: Date;
  items: Array<{ sku: string; quantity: number; unit_price_cents: number }>;
}

const selectOrders = `
  SELECT o.id, o.user_id, o.status, o.saga_id, o.reason_code, o.reason, o.created_at, o.updated_at,
         (SELECT json_agg(json_build_object('sku', i.sku, 'quantity', i.quantity, 'unit_price_cents', i.unit_price_cents) ORDER BY i.sku)
            FROM order_items i WHERE i.order_id = o.id) AS items
    FROM orders o`;

/** {@link OrderRepository} on PostgreSQL. */
export class PgOrderRepository implements OrderRepository {
  async insert(db: Queryable, order: Order, sagaId: string): Promise<void> {
    // One statement for the order and its lines, not awaited in a transaction.
    await sendInTransaction(db, {
      name: 'orders_insert',
      text: `WITH inserted AS (
               INSERT INTO orders (id, user_id, status, total_cents, saga_id, reason_code, reason, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id)
             INSERT INTO order_items (order_id, sku, quantity, unit_price_cents)
             SELECT inserted.id, line.* FROM inserted, unnest($10::text[], $11::integer[], $12::integer[]) AS line`,
      values: [
        order.id,
        order.userId,
        order.status,
        order.totalCents,
        sagaId,
        order.reasonCode,
        order.reason,
        order.createdAt,
        order.updatedAt,
        order.lines.map((line) => line.sku),
        order.lines.map((line) => line.quantity),
        order.lines.map((line) => line.unitPriceCents),
      ],
    });
  }

  async findById(db: Queryable, id: string): Promise<OrderRecord | undefined> {
    const { rows } = await db.query<OrderRow>({ name: 'orders_find_by_id', text: `${selectOrders} WHERE o.id = $1`, values: [id] });
    return rows[0] === undefined ? undefined : toRecord(rows[0]);
  }

  async listByUser(db: Queryable, userId: string, limit: number): Promise<OrderRecord[]> {
    const { rows } = await db.query<OrderRow>(`${selectOrders} WHERE o.user_id = $1 ORDER BY o.created_at DESC, o.id LIMIT $2`, [userId, limit]);
    return rows.map(toRecord);
  }

  async save(db: Queryable, order: Order): Promise<void> {
    await sendInTransaction(db, {
      name: 'orders_save',
      text: 'UPDATE orders SET status = $2, reason_code = $3, reason = $4, updated_at = $5 WHERE id = $1',
      values: [order.id, order.status, order.reasonCode, order.reason, order.updatedAt],
    });
  }
}

function toRecord(row: OrderRow): OrderRecord {
  const order = Order.restore({
    id: row.id,
    userId: row.user_id,
    status: row.status,
    lines: (row.items ?? []).map((item) => OrderLine.of({ sku: item.sku, quantity: item.quantity, unitPriceCents: item.unit_price_cents })),
    reasonCode: row.reason_code,
    reason: row.reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
  return { order, sagaId: row.saga_id };
}
