import { OrderError } from './order.errors.js';
import type { OrderLine } from './order-line.value-object.js';

/** Most lines in one order. */
export const maxLinesPerOrder = 20;

/** `PENDING` until the PlaceOrder saga decides; then `APPROVED` or `REJECTED` for good. */
export type OrderStatus = 'PENDING' | 'APPROVED' | 'REJECTED';

/** Everything an order is made of; what a repository restores. */
export interface OrderProps {
  id: string;
  userId: string;
  status: OrderStatus;
  lines: readonly OrderLine[];
  reasonCode: string | null;
  reason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The order aggregate (Sairyss' entity: static `create`-style factory, private props, transition
 * methods). Its total is derived from its lines, never given.
 */
export class Order {
  private constructor(private props: OrderProps) {}

  /**
   * A new `PENDING` order.
   *
   * @throws {OrderError} `ORDER.INVALID_ITEMS` when there are no lines, more than
   * {@link maxLinesPerOrder}, or one SKU on two lines.
   */
  static place(input: { id: string; userId: string; lines: readonly OrderLine[]; now: Date }): Order {
    if (input.lines.length === 0) throw new OrderError('ORDER.INVALID_ITEMS', 'An order needs at least one item');
    if (input.lines.length > maxLinesPerOrder) throw new OrderError('ORDER.INVALID_ITEMS', `An order has at most ${maxLinesPerOrder} items`);
    const seen = new Set<string>();
    for (const line of input.lines) {
      if (seen.has(line.sku)) throw new OrderError('ORDER.INVALID_ITEMS', `SKU ${line.sku} appears on more than one line`, [line.sku]);
      seen.add(line.sku);
    }
    return new Order({
      id: input.id,
      userId: input.userId,
      status: 'PENDING',
      lines: [...input.lines],
      reasonCode: null,
      reason: null,
      createdAt: input.now,
      updatedAt: input.now,
    });
  }

  /** Rebuilds an order from storage; no invariants are re-checked. */
  static restore(props: OrderProps): Order {
    return new Order({ ...props, lines: [...props.lines] });
  }

  get id(): string {
    return this.props.id;
  }

  get userId(): string {
    return this.props.userId;
  }

  get status(): OrderStatus {
    return this.props.status;
  }

  get lines(): readonly OrderLine[] {
    return this.props.lines;
  }

  /** Why the order was rejected, e.g. `PAYMENT.INSUFFICIENT_FUNDS`; null unless `REJECTED`. */
  get reasonCode(): string | null {
    return this.props.reasonCode;
  }

  get reason(): string | null {
    return this.props.reason;
  }

  get createdAt(): Date {
    return this.props.createdAt;
  }

  get updatedAt(): Date {
    return this.props.updatedAt;
  }

  /** Sum of the lines' subtotals, in cents. */
  get totalCents(): number {
    return this.props.lines.reduce((sum, line) => sum + line.subtotalCents, 0);
  }

  /**
   * `PENDING` → `APPROVED`. Approving an approved order changes nothing (saga steps may run twice).
   *
   * @returns whether the order changed.
   * @throws {OrderError} `ORDER.INVALID_TRANSITION` when the order is `REJECTED`.
   */
  approve(now: Date): boolean {
    if (this.props.status === 'APPROVED') return false;
    if (this.props.status === 'REJECTED') throw new OrderError('ORDER.INVALID_TRANSITION', `Order ${this.id} is REJECTED and cannot be approved`);
    this.props = { ...this.props, status: 'APPROVED', updatedAt: now };
    return true;
  }

  /**
   * `PENDING` → `REJECTED` with a reason. Rejecting a rejected order changes nothing.
   *
   * @returns whether the order changed.
   * @throws {OrderError} `ORDER.INVALID_TRANSITION` when the order is `APPROVED`.
   */
  reject(reasonCode: string, reason: string, now: Date): boolean {
    if (this.props.status === 'REJECTED') return false;
    if (this.props.status === 'APPROVED') throw new OrderError('ORDER.INVALID_TRANSITION', `Order ${this.id} is APPROVED and cannot be rejected`);
    this.props = { ...this.props, status: 'REJECTED', reasonCode, reason, updatedAt: now };
    return true;
  }
}
