import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, sendInTransaction, withTransaction } from './database.js';
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

  /** Runs `test` with a pool of `size` connections of its own, ended afterwards. */
  async function usingPool(size: number, test: (pool: pg.Pool) => Promise<void>): Promise<void> {
    const pool = createPool(db.url, logger, size);
    try {
      await test(pool);
    } finally {
      await pool.end();
    }
  }

  it('gives every query of a snapshot transaction one view of the data, and refuses writes in it', async () => {
    await usingPool(2, async (pool) => {
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
    });
  });

  it('rolls back everything the work wrote when it throws, the statements sent without waiting too', async () => {
    await usingPool(2, async (pool) => {
      await pool.query('CREATE TABLE marks (n int)');
      await withTransaction(pool, async (tx) => {
        await tx.query('INSERT INTO marks VALUES (1)');
      });
      await expect(
        withTransaction(pool, async (tx) => {
          await tx.query('INSERT INTO marks VALUES (2)');
          await sendInTransaction(tx, { text: 'INSERT INTO marks VALUES (3)' });
          throw new Error('work failed');
        }),
      ).rejects.toThrow('work failed');
      const { rows } = await pool.query<{ n: number }>('SELECT n FROM marks ORDER BY n');
      expect(rows).toEqual([{ n: 1 }]);
    });
  });

  describe('statements sent without waiting (pipelining)', () => {
    it('sends a statement without waiting for its answer, and commits it with the transaction', async () => {
      const pool = createPool(db.url, logger, 2);
      const holder = await pool.connect();
      try {
        await pool.query('CREATE TABLE stock (sku text PRIMARY KEY, n int)');
        await pool.query("INSERT INTO stock VALUES ('a', 1)");
        // Another connection holds the row: the UPDATE cannot finish until it lets go.
        await holder.query("BEGIN; SELECT * FROM stock WHERE sku = 'a' FOR UPDATE");
        const committed = withTransaction(pool, async (tx) => {
          await sendInTransaction(tx, { text: "UPDATE stock SET n = n + 1 WHERE sku = 'a'" });
          // Reached while the UPDATE still waits for the lock: nobody waited for its answer.
          await holder.query('COMMIT');
        });
        await committed;
        const { rows } = await pool.query<{ n: number }>('SELECT n FROM stock');
        expect(rows).toEqual([{ n: 2 }]);
      } finally {
        holder.release();
        await pool.end();
      }
    });

    it('throws the error of a statement sent without waiting, not the aborted transaction it left, and commits nothing', async () => {
      await usingPool(2, async (pool) => {
        await pool.query('CREATE TABLE ledger (n int CHECK (n > 0))');
        const failing = withTransaction(pool, async (tx) => {
          await tx.query('INSERT INTO ledger VALUES (1)');
          await sendInTransaction(tx, { text: 'INSERT INTO ledger VALUES (-1)' });
          await tx.query('INSERT INTO ledger VALUES (2)');
        });
        await expect(failing).rejects.toThrow(/ledger_n_check/);
        // The failing statement is the last one: COMMIT answers ROLLBACK, which must not pass for success.
        const lastFailing = withTransaction(pool, async (tx) => {
          await tx.query('INSERT INTO ledger VALUES (3)');
          await sendInTransaction(tx, { text: 'INSERT INTO ledger VALUES (-3)' });
        });
        await expect(lastFailing).rejects.toThrow(/ledger_n_check/);
        const { rows } = await pool.query('SELECT n FROM ledger');
        expect(rows).toEqual([]);
      });
    });

    it('commits when a savepoint undid the failed statement', async () => {
      await usingPool(2, async (pool) => {
        await pool.query('CREATE TABLE entries (n int CHECK (n > 0))');
        await withTransaction(pool, async (tx) => {
          await tx.query('INSERT INTO entries VALUES (1)');
          await sendInTransaction(tx, { text: 'SAVEPOINT step' });
          await sendInTransaction(tx, { text: 'INSERT INTO entries VALUES (-1)' });
          await expect(tx.query('INSERT INTO entries VALUES (2)')).rejects.toThrow(/current transaction is aborted/);
          await tx.query('ROLLBACK TO SAVEPOINT step');
        });
        const { rows } = await pool.query('SELECT n FROM entries');
        expect(rows).toEqual([{ n: 1 }]);
      });
    });

    it('writes the statements a client is given within one tick to its socket at once', async () => {
      const pool = createPool(db.url, logger, 1);
      const client = await pool.connect();
      try {
        type Callback = (error?: Error | null) => void;
        const socket = (client as unknown as { connection: { stream: Socket & { _write: Socket['_write']; _writev: NonNullable<Socket['_writev']> } } }).connection.stream;
        const writes: number[] = [];
        const [write, writev] = [socket._write.bind(socket), socket._writev.bind(socket)];
        socket._write = (chunk: unknown, encoding: BufferEncoding, callback: Callback) => {
          writes.push(1);
          write(chunk, encoding, callback);
        };
        socket._writev = (chunks: Array<{ chunk: unknown; encoding: BufferEncoding }>, callback: Callback) => {
          writes.push(chunks.length);
          writev(chunks, callback);
        };
        await Promise.all([client.query('BEGIN'), client.query('SELECT 1'), client.query('COMMIT')]);
        await client.query('SELECT 2');
        expect(writes).toEqual([3, 1]);
      } finally {
        client.release();
        await pool.end();
      }
    });

    it('waits for the statement outside a transaction, and throws its error', async () => {
      await usingPool(2, async (pool) => {
        await expect(sendInTransaction(pool, { text: 'SELECT 1 / 0' })).rejects.toThrow(/division by zero/);
      });
    });
  });
});
