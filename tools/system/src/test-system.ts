import { createTestDatabase, freePort, type TestDatabase } from '@msr/infra';
import { startSystem, type RunningSystem, type SystemOptions } from './launcher.js';

/** Fresh `users`, `orders` and `payments` databases for one run. */
export interface ServiceTestDatabases {
  urls: SystemOptions['databaseUrls'];
  /** Drops the three databases. */
  drop(): Promise<void>;
}

/**
 * Creates three throwaway databases, `test_<prefix>_users_<random>` and so on, so that every run
 * starts from the seeded catalog and sees no other run's rows.
 *
 * @param adminUrl - the server to create them on; `PG_ADMIN_URL` or the local default otherwise.
 */
export async function createServiceTestDatabases(prefix: string, adminUrl?: string): Promise<ServiceTestDatabases> {
  const databases: TestDatabase[] = await Promise.all(['users', 'orders', 'payments'].map((name) => createTestDatabase(`${prefix}_${name}`, adminUrl)));
  const [users, orders, payments] = databases as [TestDatabase, TestDatabase, TestDatabase];
  return {
    urls: { users: users.url, orders: orders.url, payments: payments.url },
    drop: async () => {
      await Promise.all(databases.map((db) => db.drop()));
    },
  };
}

/** What {@link startTestSystem} needs: {@link SystemOptions} less what it chooses itself. */
export type TestSystemOptions = Omit<SystemOptions, 'databaseUrls' | 'registryPort' | 'gatewayPort'> & {
  /** Names the databases, e.g. `e2e` or `bench_gw`. */
  prefix: string;
  adminUrl?: string;
};

/** A running system on its own databases and free ports. */
export interface TestSystem {
  system: RunningSystem;
  databases: ServiceTestDatabases;
  /** Stops the apps (if still running) and drops the databases. */
  dispose(): Promise<void>;
}

/**
 * Starts the five apps (see {@link startSystem}) on fresh databases and free ports, for the
 * end-to-end and chaos suites and the benchmarks. If start-up fails, the databases are dropped
 * before the error is rethrown.
 */
export async function startTestSystem(options: TestSystemOptions): Promise<TestSystem> {
  const { prefix, adminUrl, ...systemOptions } = options;
  const databases = await createServiceTestDatabases(prefix, adminUrl);
  try {
    const system = await startSystem({ ...systemOptions, databaseUrls: databases.urls, registryPort: await freePort(), gatewayPort: await freePort() });
    return {
      system,
      databases,
      dispose: async () => {
        await system.stop();
        await databases.drop();
      },
    };
  } catch (error) {
    await databases.drop();
    throw error;
  }
}
