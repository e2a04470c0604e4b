import { randomUUID } from 'node:crypto';
import { createMessage, enqueueMessage, withOutboxTransaction } from '@msr/events';
import type { SagaDefinition, SagaOrchestrator } from '@msr/saga';
import type pg from 'pg';
import { Order } from '../../domain/order.entity.js';
import { priceItems, type RequestedItem } from '../../domain/pricing.service.js';
import type { OrderRepository, ProductRepository } from '../ports.js';
import type { PlaceOrderData } from './place-order.saga.js';

/** A request to place an order: who, and which SKUs in which quantities. */
export interface PlaceOrderCommand {
  userId: string;
  items: readonly RequestedItem[];
}

/** What {@link PlaceOrderService} needs. */
export interface PlaceOrderServiceDeps {
  pool: pg.Pool;
  products: ProductRepository;
  orders: OrderRepository;
  orchestrator: SagaOrchestrator;
  saga: SagaDefinition<PlaceOrderData>;
  /** Where `order.created` goes. */
  orderEventsTopic: string;
}

/** The placed order and the saga now deciding it. */
export interface PlacedOrder {
  order: Order;
  sagaId: string;
}

/**
 * The PlaceOrder use case: prices the items from the catalog, then in one transaction writes the
 * `PENDING` order, `order.created` (outbox) and the PlaceOrder saga instance. The saga runs
 * after the commit, asynchronously; the caller answers 202.
 */
export class PlaceOrderService {
  constructor(private readonly deps: PlaceOrderServiceDeps) {}

  /**
   * @throws {OrderError} `ORDER.UNKNOWN_SKU` naming the unknown SKUs, or `ORDER.INVALID_ITEMS`;
   * nothing is written then.
   */
  async placeOrder(command: PlaceOrderCommand): Promise<PlacedOrder> {
    const { pool, products, orders, orchestrator, saga } = this.deps;
    const priced = priceItems(command.items, await products.pricesOf(pool, command.items.map((item) => item.sku)));
    if (!priced.ok) throw priced.error;
    const order = Order.place({ id: randomUUID(), userId: command.userId, lines: priced.lines, now: new Date() });
    const items = order.lines.map((line) => ({ sku: line.sku, quantity: line.quantity, unit_price_cents: line.unitPriceCents }));
    const sagaId = randomUUID();

    const afterCommit: Array<() => void> = [];
    await withOutboxTransaction(pool, async (tx) => {
      await orders.insert(tx, order, sagaId);
      const created = createMessage(
        'order.created',
        { order_id: order.id, user_id: order.userId, items, total_cents: order.totalCents, created_at: order.createdAt.toISOString() },
        { key: order.id, correlationId: sagaId },
      );
      await enqueueMessage(tx, created, this.deps.orderEventsTopic);
      const data = { order_id: order.id, user_id: order.userId, items, total_cents: order.totalCents };
      await orchestrator.start(tx, saga, sagaId, data, { afterCommit: (callback) => void afterCommit.push(callback) });
    });
    // The saga runs as soon as the order is committed, not at the next poll.
    for (const callback of afterCommit) callback();
    return { order, sagaId };
  }
}
