import type { Queryable } from '@msr/service-defaults';
import type { ProductRepository } from '../application/ports.js';
import type { Product } from '../domain/product.entity.js';

interface ProductRow {
  sku: string;
  name: string;
  price_cents: number;
  stock: number;
}

/** {@link ProductRepository} on PostgreSQL. */
export class PgProductRepository implements ProductRepository {
  async list(db: Queryable): Promise<Product[]> {
    const { rows } = await db.query<ProductRow>('SELECT sku, name, price_cents, stock FROM products ORDER BY sku');
    return rows.map((row) => ({ sku: row.sku, name: row.name, priceCents: row.price_cents, stock: row.stock }));
  }

  async pricesOf(db: Queryable, skus: readonly string[]): Promise<Map<string, number>> {
    const { rows } = await db.query<Pick<ProductRow, 'sku' | 'price_cents'>>({
      name: 'products_prices',
      text: 'SELECT sku, price_cents FROM products WHERE sku = ANY($1::text[])',
      values: [skus],
    });
    return new Map(rows.map((row) => [row.sku, row.price_cents]));
  }
}
