import { migrationSource, type MigrationSource } from '@msr/service-defaults';

/**
 * The tables of the messaging patterns: `outbox` (transactional outbox), `inbox` (idempotent
 * consumer) and `dead_letters`. Every service that publishes or consumes applies it beside its
 * own migrations: `migrate(pool, [eventsMigrations, ownMigrations], logger)`. Apps bundle the
 * folder as `migrations/events` (build asset from `libs/events/migrations`).
 */
export const eventsMigrations: MigrationSource = migrationSource('events', import.meta.url, '../migrations');
