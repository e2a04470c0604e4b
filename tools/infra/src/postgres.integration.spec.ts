import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { adminUrlFromEnv, databaseUrl, dropDatabase, ensureServiceDatabases, waitForPostgres } from './postgres.js';

const adminUrl = adminUrlFromEnv();

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return ((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

describe('ensureServiceDatabases', () => {
  // Test-only names: the real users/orders/payments databases are never touched here.
  const suffix = randomBytes(4).toString('hex');
  const names = [`test_infra_users_${suffix}`, `test_infra_orders_${suffix}`, `test_infra_payments_${suffix}`];

  afterAll(async () => {
    await Promise.all(names.map((name) => dropDatabase(adminUrl, name)));
  });

  it('creates the databases that are missing and reports which', async () => {
    const created = await ensureServiceDatabases(adminUrl, names);

    expect(created).toEqual(names);
    for (const name of names) expect(await databaseExists(name)).toBe(true);
  });

  it('leaves existing databases and their data alone on a second run', async () => {
    const [first] = names as [string];
    const client = new pg.Client({ connectionString: databaseUrl(adminUrl, first) });
    await client.connect();
    await client.query('CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)');
    await client.end();

    await expect(ensureServiceDatabases(adminUrl, names)).resolves.toEqual([]);

    const check = new pg.Client({ connectionString: databaseUrl(adminUrl, first) });
    await check.connect();
    const { rows } = await check.query<{ id: number }>('SELECT id FROM kept');
    await check.end();
    expect(rows).toEqual([{ id: 42 }]);
  });
});

describe('waitForPostgres', () => {
  it('resolves once the server answers', async () => {
    await expect(waitForPostgres(adminUrl, { timeoutMs: 10_000 })).resolves.toBeUndefined();
  });

  it('fails after the deadline, naming the server and the last error, when nothing listens', async () => {
    const url = `postgres://postgres:secret@127.0.0.1:${await unusedPort()}/postgres`;
    const wait = waitForPostgres(url, { timeoutMs: 600 });
    await expect(wait).rejects.toThrow(/timed out after 600 ms waiting for PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres \(last error: .*ECONNREFUSED/);
  });
});
