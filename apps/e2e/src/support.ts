import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PublicApi, startTestSystem, type AppName, type RunningSystem } from '@msr/system';


/** The system under test with its own throwaway databases. */
export interface SystemUnderTest {
  system: RunningSystem;
  api: PublicApi;
  /** Stops the apps (if still running) and drops the databases. */
  dispose: () => Promise<void>;
}

/** Variations of the system under test. */
export interface SystemUnderTestOptions {
  /** Extra environment per app, e.g. `{ gateway: { UPSTREAM_TIMEOUT_MS: '500' } }`. */
  appEnv?: Partial<Record<AppName, Record<string, string>>>;
  /** Instances per app (default 1). */
  instances?: Partial<Record<AppName, number>>;
}

/**
 * The gateway's rate limit in the tests: polling an order every 20 ms from many places at once
 * is a client far busier than the production default allows; the limit itself has its own test.
 */
const testRateLimitPerMinute = '100000';

/**
 * Starts the five apps as separate processes against the real broker and fresh databases, so
 * every run starts from the seeded catalog. Logs go to tmp/e2e-logs/. The public API client
 * sends a development bearer token with every scope.
 */
export async function startSystemUnderTest(options: SystemUnderTestOptions = {}): Promise<SystemUnderTest> {
  const { system, dispose } = await startTestSystem({
    prefix: 'e2e',
    kafkaBrokers: process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092',
    logDir: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../tmp/e2e-logs', new Date().toISOString().replace(/[:.]/g, '-')),
    env: { LOG_LEVEL: 'info' },
    appEnv: { ...options.appEnv, gateway: { RATE_LIMIT_PER_MINUTE: testRateLimitPerMinute, ...options.appEnv?.gateway } },
    ...(options.instances === undefined ? {} : { instances: options.instances }),
  });
  return { system, api: new PublicApi(system.gatewayUrl), dispose };
}
