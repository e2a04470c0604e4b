import { migrationSource } from '@msr/service-defaults';

/**
 * order-service's own schema (`products` with the seeded catalog, `orders`, `order_items`,
 * `reservations`), applied at start-up after the events and saga libs' tables. In the bundle the
 * SQL sits in `migrations/order-service`.
 */
export const orderServiceMigrations = migrationSource('order-service', import.meta.url, '../../migrations');
