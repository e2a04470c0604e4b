import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate } from './database.js';
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
