import { migrationSource } from '@msr/service-defaults';

/**
 * The saga tables (`saga_instances`, `saga_step_log`). An app that runs sagas applies them with
 * `migrate(pool, [eventsMigrations, sagaMigrations, ...])` and copies `libs/saga/migrations` to
 * `migrations/saga` in its build assets.
 */
export const sagaMigrations = migrationSource('saga', import.meta.url, '../migrations');
