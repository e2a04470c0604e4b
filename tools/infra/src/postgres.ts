import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pollUntil } from './wait.js';

/** The server-level URL used to create databases; any database on the server will do. */
export const defaultAdminUrl = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The admin URL from `PG_ADMIN_URL`, or {@link defaultAdminUrl}. */
export function adminUrlFromEnv(env: Record<string, string | undefined> = process.env): string {
  return env['PG_ADMIN_URL'] ?? defaultAdminUrl;
}

/** The URL of database `name` on the same server as `adminUrl`. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates database `name` unless it exists. Returns true when it was created. */
export async function createDatabaseIfMissing(adminUrl: string, name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return true;
  } catch (error) {
    // Two processes creating the same database race; the loser sees 42P04 (duplicate_database).
    if ((error as { code?: string }).code === '42P04') return false;
    throw error;
  } finally {
    await client.end();
  }
}

/** Drops database `name`, disconnecting anyone still connected. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** A throwaway database for one test file. */
export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database. */
  drop: () => Promise<void>;
}

/**
 * Creates an empty database named `test_<prefix>_<random>` so that integration tests never share
 * rows with each other, with the demo or with a developer's data. Call `drop()` in `afterAll`.
 */
export async function createTestDatabase(prefix: string, adminUrl = adminUrlFromEnv()): Promise<TestDatabase> {
  const name = `test_${prefix.replace(/\W/g, '_')}_${randomBytes(4).toString('hex')}`;
  await createDatabaseIfMissing(adminUrl, name);
  return { name, url: databaseUrl(adminUrl, name), drop: () => dropDatabase(adminUrl, name) };
}

/** The databases of the services, one each (database per service): user-service, order-service, payment-service. */
export const serviceDatabases = ['users', 'orders', 'payments'] as const;

/** One of {@link serviceDatabases}. */
export type ServiceDatabase = (typeof serviceDatabases)[number];

/**
 * Creates each database in `names` (default {@link serviceDatabases}) that does not exist yet on
 * the server of `adminUrl`. Existing databases and their data are left as they are; each service
 * then owns its schema through its own migrations.
 *
 * @returns the names that this call created, in the order given.
 * @throws the `pg` error when the server is unreachable or refuses to create a database.
 */
export async function ensureServiceDatabases(adminUrl: string, names: readonly string[] = serviceDatabases): Promise<string[]> {
  const created: string[] = [];
  for (const name of names) {
    if (await createDatabaseIfMissing(adminUrl, name)) created.push(name);
  }
  return created;
}

/**
 * Waits until the PostgreSQL server of `adminUrl` accepts a connection and answers `SELECT 1`,
 * polling every 250 ms (a server that is still starting refuses connections or answers 57P03).
 *
 * @throws Error when it does not answer within `timeoutMs` (default 30 000 ms); the message
 *   carries the last connection error.
 */
export async function waitForPostgres(adminUrl: string, options: { timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  let lastError: unknown;
  try {
    await pollUntil(
      async () => {
        const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: Math.min(timeoutMs, 2_000) });
        // A dropped connection is reported as an 'error' event; without a listener it would crash the process.
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.query('SELECT 1');
          return true;
        } catch (error) {
          lastError = error;
          return false;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      { timeoutMs, what: `PostgreSQL at ${redactUrl(adminUrl)}` },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message} (last error: ${(lastError as Error | undefined)?.message ?? 'none'})`, { cause: lastError });
  }
}

/** `url` with its password replaced by `***`, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
