import { migrationSource } from '@msr/service-defaults';

/**
 * payment-service's own schema (`accounts`, `payments`), applied at start-up after the events
 * lib's `outbox`/`inbox` tables. In the bundle the SQL sits in `migrations/payment-service`.
 */
export const paymentServiceMigrations = migrationSource('payment-service', import.meta.url, '../../migrations');
