import type { SagaOrchestrator, SagaView } from '@msr/saga';
import type pg from 'pg';
import type { Order } from '../../domain/order.entity.js';
import { OrderError } from '../../domain/order.errors.js';
import type { Product } from '../../domain/product.entity.js';
import type { OrderRepository, ProductRepository } from '../ports.js';

/** An order with the saga deciding it (absent only if the saga row is missing). */
export interface OrderDetails {
  order: Order;
  saga: SagaView | undefined;
}

/** What {@link OrderQueries} needs. */
export interface OrderQueriesDeps {
  pool: pg.Pool;
  products: ProductRepository;
  orders: OrderRepository;
  orchestrator: SagaOrchestrator;
}

/** Most orders `listOrders` returns. */
export const maxListedOrders = 100;

/** Read side of order-service: the catalog, and orders with their saga's step log. */
export class OrderQueries {
  constructor(private readonly deps: OrderQueriesDeps) {}

  /** The catalog with current stock. */
  listProducts(): Promise<Product[]> {
    return this.deps.products.list(this.deps.pool);
  }

  /**
   * An order and its saga.
   *
   * @throws {OrderError} `ORDER.NOT_FOUND`.
   */
  async getOrder(orderId: string): Promise<OrderDetails> {
    const record = await this.deps.orders.findById(this.deps.pool, orderId);
    if (record === undefined) throw new OrderError('ORDER.NOT_FOUND', `No order with id ${orderId}`);
    return { order: record.order, saga: await this.deps.orchestrator.get(record.sagaId) };
  }

  /** A user's orders with their sagas, newest first, at most {@link maxListedOrders}. */
  async listOrders(userId: string): Promise<OrderDetails[]> {
    const records = await this.deps.orders.listByUser(this.deps.pool, userId, maxListedOrders);
    const sagas = await this.deps.orchestrator.getMany(records.map((record) => record.sagaId));
    return records.map((record) => ({ order: record.order, saga: sagas.get(record.sagaId) }));
  }
}
