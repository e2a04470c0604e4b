import { sendInTransaction, type Queryable } from '@msr/service-defaults';
import type { DeclineCode } from '../domain/domain-errors.js';
import { Money } from '../domain/money.value-object.js';
import { Payment, type PaymentStatus } from '../domain/payment.entity.js';
import type { PaymentRepository } from '../domain/payment.repository.js';

interface PaymentRow {
  id: string;
  order_id: string;
  user_id: string;
  // bigint arrives as a string from pg.
  amount_cents: string;
  status: PaymentStatus;
  decline_code: DeclineCode | null;
  decline_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

/** First key of the per-order advisory locks: payment-service's own lock namespace. */
const orderLockNamespace = 3003;

const columns = 'id, order_id, user_id, amount_cents, status, decline_code, decline_reason, created_at, updated_at';

function toPayment(row: PaymentRow): Payment {
  return Payment.restore({
    id: row.id,
    orderId: row.order_id,
    userId: row.user_id,
    amount: Money.ofCents(Number(row.amount_cents)),
    status: row.status,
    ...(row.decline_code === null ? {} : { decline: { code: row.decline_code, message: row.decline_reason ?? '' } }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
}

/** {@link PaymentRepository} on PostgreSQL table `payments`; pass a transaction client to write. */
export class PgPaymentRepository implements PaymentRepository {
  constructor(private readonly db: Queryable) {}

  async lockOrder(orderId: string): Promise<void> {
    // A transaction-scoped advisory lock, released at COMMIT/ROLLBACK. The two-key form keeps
    // these locks apart from single-key ones (e.g. the outbox relay's); two orders whose ids
    // hash alike merely wait for each other. Not awaited in a transaction: the statements sent
    // after it run only once it holds the lock.
    await sendInTransaction(this.db, { name: 'payments_lock_order', text: 'SELECT pg_advisory_xact_lock($1, hashtext($2))', values: [orderLockNamespace, orderId] });
  }

  async findById(id: string): Promise<Payment | undefined> {
    const { rows } = await this.db.query<PaymentRow>(`SELECT ${columns} FROM payments WHERE id = $1`, [id]);
    return rows[0] === undefined ? undefined : toPayment(rows[0]);
  }

  async findByOrderId(orderId: string): Promise<Payment | undefined> {
    const { rows } = await this.db.query<PaymentRow>({ name: 'payments_find_by_order', text: `SELECT ${columns} FROM payments WHERE order_id = $1`, values: [orderId] });
    return rows[0] === undefined ? undefined : toPayment(rows[0]);
  }

  async insert(payment: Payment): Promise<void> {
    await sendInTransaction(this.db, {
      name: 'payments_insert',
      text: `INSERT INTO payments (${columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      values: [
        payment.id,
        payment.orderId,
        payment.userId,
        payment.amount.cents,
        payment.status,
        payment.decline?.code ?? null,
        payment.decline?.message ?? null,
        payment.createdAt,
        payment.updatedAt,
      ],
    });
  }

  async update(payment: Payment): Promise<void> {
    const { rowCount } = await this.db.query(`UPDATE payments SET status = $2, updated_at = $3 WHERE id = $1`, [
      payment.id,
      payment.status,
      payment.updatedAt,
    ]);
    if (rowCount !== 1) throw new Error(`cannot update payment ${payment.id}: it does not exist`);
  }

  async recordCancellation(orderId: string, reason: string, now: Date): Promise<void> {
    await this.db.query('INSERT INTO order_cancellations (order_id, reason, cancelled_at) VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING', [orderId, reason, now]);
  }

  async isCancelled(orderId: string): Promise<boolean> {
    const { rowCount } = await this.db.query({ name: 'order_cancellations_exists', text: 'SELECT 1 FROM order_cancellations WHERE order_id = $1', values: [orderId] });
    return rowCount === 1;
  }
}
