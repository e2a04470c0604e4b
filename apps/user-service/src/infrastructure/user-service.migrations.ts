import { migrationSource, type MigrationSource } from '@msr/service-defaults';

/**
 * The user-service's own schema (`users` table), applied at start-up after `eventsMigrations`.
 * In the source tree the SQL sits in `apps/user-service/migrations`; a build copies it to
 * `dist/apps/user-service/migrations/user-service`.
 */
export const userServiceMigrations: MigrationSource = migrationSource('user-service', import.meta.url, '../../migrations');
