import { randomUUID } from 'node:crypto';
import { eventsMigrations } from '@msr/events';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { sagaMigrations } from '@msr/saga';
import { createLogger, createPool, migrate, withTransaction } from '@msr/service-defaults';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Order } from '../domain/order.entity.js';
import { OrderLine } from '../domain/order-line.value-object.js';
import { orderServiceMigrations } from './order-service.migrations.js';
import { PgInventoryRepository } from './pg-inventory.repository.js';
import { PgOrderRepository } from './pg-order.repository.js';
import { PgProductRepository } from './pg-product.repository.js';

const logger = createLogger({ service: 'order-service-test', level: 'silent' });
const inventory = new PgInventoryRepository();
const orders = new PgOrderRepository();
const products = new PgProductRepository();
let database: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  database = await createTestDatabase('orders_inventory');
  pool = createPool(database.url, logger, 25);
  await migrate(pool, [eventsMigrations, sagaMigrations, orderServiceMigrations], logger);
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

async function stockOf(sku: string): Promise<number> {
  return (await products.list(pool)).find((product) => product.sku === sku)!.stock;
}

/** A PENDING order in the database (reservations reference it). */
async function newOrder(items: Array<{ sku: string; quantity: number }>): Promise<string> {
  const prices = await products.pricesOf(pool, items.map((item) => item.sku));
  const lines = items.map((item) => OrderLine.of({ ...item, unitPriceCents: prices.get(item.sku) ?? 1 }));
  const order = Order.place({ id: randomUUID(), userId: randomUUID(), lines, now: new Date() });
  await orders.insert(pool, order, randomUUID());
  return order.id;
}

describe('the seeded catalog', () => {
  it('holds the five demo products with their prices and stock', async () => {
    expect(await products.list(pool)).toEqual([
      { sku: 'SKU-BOOK', name: 'Domain-Driven Design (book)', priceCents: 4999, stock: 100 },
      { sku: 'SKU-KEYBOARD', name: 'Mechanical keyboard', priceCents: 12900, stock: 50 },
      { sku: 'SKU-LAPTOP', name: 'Laptop', priceCents: 249900, stock: 10 },
      { sku: 'SKU-LIMITED', name: 'Limited edition print', priceCents: 1000, stock: 5 },
      { sku: 'SKU-MUG', name: 'Kafka mug', priceCents: 1250, stock: 100 },
    ]);
  });
});

describe('PgInventoryRepository', () => {
  it('reserves exactly the ordered quantities, once however often it is asked', async () => {
    const items = [
      { sku: 'SKU-MUG', quantity: 3 },
      { sku: 'SKU-BOOK', quantity: 2 },
    ];
    const orderId = await newOrder(items);
    const [mugs, books] = [await stockOf('SKU-MUG'), await stockOf('SKU-BOOK')];

    expect(await withTransaction(pool, (tx) => inventory.reserve(tx, orderId, items))).toEqual({ ok: true });
    expect(await withTransaction(pool, (tx) => inventory.reserve(tx, orderId, items))).toEqual({ ok: true });

    expect([await stockOf('SKU-MUG'), await stockOf('SKU-BOOK')]).toEqual([mugs - 3, books - 2]);
  });

  it('takes stock once when the same order is reserved twice at the same time', async () => {
    const items = [{ sku: 'SKU-MUG', quantity: 2 }];
    const orderId = await newOrder(items);
    const before = await stockOf('SKU-MUG');

    const results = await Promise.all([1, 2].map(() => withTransaction(pool, (tx) => inventory.reserve(tx, orderId, items))));

    expect(results).toEqual([{ ok: true }, { ok: true }]);
    expect(await stockOf('SKU-MUG')).toBe(before - 2);
  });

  it('gives back exactly what was reserved, once however often it is asked', async () => {
    const items = [{ sku: 'SKU-KEYBOARD', quantity: 4 }];
    const orderId = await newOrder(items);
    const before = await stockOf('SKU-KEYBOARD');
    await withTransaction(pool, (tx) => inventory.reserve(tx, orderId, items));

    expect(await withTransaction(pool, (tx) => inventory.release(tx, orderId))).toEqual([{ sku: 'SKU-KEYBOARD', quantity: 4 }]);
    expect(await withTransaction(pool, (tx) => inventory.release(tx, orderId))).toEqual([]);
    expect(await stockOf('SKU-KEYBOARD')).toBe(before);
  });

  it('confirms a pending reservation at approval, after which it can no longer be released', async () => {
    const items = [{ sku: 'SKU-BOOK', quantity: 3 }];
    const orderId = await newOrder(items);
    const before = await stockOf('SKU-BOOK');
    await withTransaction(pool, (tx) => inventory.reserve(tx, orderId, items));

    await withTransaction(pool, (tx) => inventory.confirm(tx, orderId));
    await withTransaction(pool, (tx) => inventory.confirm(tx, orderId));

    expect(await withTransaction(pool, (tx) => inventory.release(tx, orderId))).toEqual([]);
    expect(await stockOf('SKU-BOOK')).toBe(before - 3);
    const { rows } = await pool.query('SELECT status, confirmed_at FROM reservations WHERE order_id = $1', [orderId]);
    expect(rows).toEqual([{ status: 'CONFIRMED', confirmed_at: expect.any(Date) }]);
  });

  it('releases nothing for an order that never reserved', async () => {
    const before = await stockOf('SKU-BOOK');
    expect(await withTransaction(pool, (tx) => inventory.release(tx, randomUUID()))).toEqual([]);
    expect(await stockOf('SKU-BOOK')).toBe(before);
  });

  it('reserves nothing at all when one item is short, and names the shortage', async () => {
    const items = [
      { sku: 'SKU-BOOK', quantity: 1 },
      { sku: 'SKU-LAPTOP', quantity: 11 },
    ];
    const orderId = await newOrder([{ sku: 'SKU-BOOK', quantity: 1 }]);
    const [books, laptops] = [await stockOf('SKU-BOOK'), await stockOf('SKU-LAPTOP')];

    const result = await withTransaction(pool, (tx) => inventory.reserve(tx, orderId, items));

    expect(result).toEqual({ ok: false, shortages: [{ sku: 'SKU-LAPTOP', requested: 11, available: laptops }] });
    expect([await stockOf('SKU-BOOK'), await stockOf('SKU-LAPTOP')]).toEqual([books, laptops]);
    const { rowCount } = await pool.query('SELECT 1 FROM reservations WHERE order_id = $1', [orderId]);
    expect(rowCount).toBe(0);
  });

  it('lets exactly 5 of 20 concurrent one-unit reservations through a stock of 5, never going below zero', async () => {
    expect(await stockOf('SKU-LIMITED')).toBe(5);
    const orderIds = await Promise.all(Array.from({ length: 20 }, () => newOrder([{ sku: 'SKU-LIMITED', quantity: 1 }])));

    const results = await Promise.all(orderIds.map((orderId) => withTransaction(pool, (tx) => inventory.reserve(tx, orderId, [{ sku: 'SKU-LIMITED', quantity: 1 }]))));

    expect(results.filter((result) => result.ok)).toHaveLength(5);
    expect(results.filter((result) => !result.ok)).toHaveLength(15);
    expect(await stockOf('SKU-LIMITED')).toBe(0);
    const { rows } = await pool.query<{ held: string }>("SELECT sum(quantity) AS held FROM reservations WHERE sku = 'SKU-LIMITED' AND status = 'RESERVED'");
    expect(Number(rows[0]!.held)).toBe(5);
  });

  it('never lets stock go negative, even when written around the repository', async () => {
    await expect(pool.query("UPDATE products SET stock = -1 WHERE sku = 'SKU-MUG'")).rejects.toThrow(/products_stock_check/);
  });
});
