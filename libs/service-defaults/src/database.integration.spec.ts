import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, withTransaction } from './database.js';
import { createLogger } from './logger.js';

describe('migrate', () => {
  let db: TestDatabase;
  const logger = createLogger({ service: 'test', level: 'silent' });
  const dir = mkdtempSync(path.join(tmpdir(), 'msr-migrations-'));
  writeFileSync(
    path.join(dir, '1700000000000_counter.sql'),
    '-- Up Migration\nCREATE TABLE counter (n int);\nINSERT INTO counter VALUES (1);\nSELECT pg_sleep(0.2);\n-- Down Migration\nDROP TABLE counter;\n',
  );

  beforeAll(async () => {
    db = await createTestDatabase('migrate');
  });

  afterAll(async () => {
    await db.drop();
  });

  it('lets instances that start together wait for each other, so each migration runs once', async () => {
    const pools = Array.from({ length: 4 }, () => createPool(db.url, logger, 2));
    try {
      await Promise.all(pools.map((pool) => migrate(pool, [{ name: 'concurrent', dir }], logger)));
      const { rows } = await (pools[0] as (typeof pools)[number]).query<{ count: string }>('SELECT count(*) FROM counter');
      expect(rows[0]?.count).toBe('1');
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });
});

describe('withTransaction', () => {
  let db: TestDatabase;
  const logger = createLogger({ service: 'test', level: 'silent' });

  beforeAll(async () => {
    db = await createTestDatabase('transactions');
  });

  afterAll(async () => {
    await db.drop();
  });

  it('gives every query of a snapshot transaction one view of the data, and refuses writes in it', async () => {
    const pool = createPool(db.url, logger, 2);
    try {
      await pool.query('CREATE TABLE events (n int)');
      await pool.query('INSERT INTO events VALUES (1)');
      const count = async (client: Parameters<Parameters<typeof withTransaction>[1]>[0]) =>
        (await client.query<{ count: number }>('SELECT count(*)::int AS count FROM events')).rows[0]?.count;
      const seen = await withTransaction(
        pool,
        async (tx) => {
          const before = await count(tx);
          // Committed by another connection between the two reads.
          await pool.query('INSERT INTO events VALUES (2)');
          return [before, await count(tx)];
        },
        { snapshot: true },
      );
      expect(seen).toEqual([1, 1]);
      const readCommitted = await withTransaction(pool, async (tx) => {
        const before = await count(tx);
        await pool.query('INSERT INTO events VALUES (3)');
        return [before, await count(tx)];
      });
      expect(readCommitted).toEqual([2, 3]);
      await expect(withTransaction(pool, (tx) => tx.query('INSERT INTO events VALUES (4)'), { snapshot: true })).rejects.toThrow(/read-only transaction/);
    } finally {
      await pool.end();
    }
  });

  it('runs a first statement with BEGIN, hands its result to the work, and rolls it back with the work', async () => {
    const pool = createPool(db.url, logger, 2);
    try {
      await pool.query('CREATE TABLE marks (n int)');
      const inserted = await withTransaction(pool, async (_tx, first) => first?.rowCount, {
        synchronousCommit: false,
        firstStatement: (client) => `INSERT INTO marks VALUES (${client.escapeLiteral('1')}::int)`,
      });
      expect(inserted).toBe(1);
      await expect(
        withTransaction(
          pool,
          async () => {
            throw new Error('work failed');
          },
          { firstStatement: () => 'INSERT INTO marks VALUES (2)' },
        ),
      ).rejects.toThrow('work failed');
      const { rows } = await pool.query<{ n: number }>('SELECT n FROM marks ORDER BY n');
      expect(rows).toEqual([{ n: 1 }]);
    } finally {
      await pool.end();
    }
  });
});
