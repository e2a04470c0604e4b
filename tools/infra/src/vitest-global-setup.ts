import { bringUpInfrastructure } from './infrastructure.js';

/**
 * Vitest `globalSetup` for suites that need PostgreSQL and Kafka when run on their own (e.g.
 * `npx nx run e2e:e2e` outside `npm test`): brings the infrastructure up with
 * {@link bringUpInfrastructure}, which logs its choice, and hands the addresses to the test
 * workers as `PG_ADMIN_URL` and `KAFKA_BROKERS` (workers inherit the environment). Under
 * `npm test` both are already set, so nothing is started. Use it as
 * `test: { globalSetup: ['../../tools/infra/src/vitest-global-setup.ts'] }`.
 *
 * @returns the teardown, which releases what was started (the local broker, the containers).
 */
export async function setup(): Promise<() => Promise<void>> {
  const infra = await bringUpInfrastructure({ log: (line) => console.log(line) });
  process.env['PG_ADMIN_URL'] = infra.pgAdminUrl;
  process.env['KAFKA_BROKERS'] = infra.kafkaBrokers.join(',');
  return () => infra.release();
}
