import { eventsMigrations } from '@msr/events';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { createLogger, createPool, migrate } from '@msr/service-defaults';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Result } from '../domain/result.js';
import { User } from '../domain/user.entity.js';
import type { UserError } from '../domain/user.errors.js';
import { PgUserRepository } from './pg-user.repository.js';
import { userServiceMigrations } from './user-service.migrations.js';

const logger = createLogger({ service: 'user-service-test', level: 'silent' });
let database: TestDatabase;
let pool: pg.Pool;
let repository: PgUserRepository;

beforeAll(async () => {
  database = await createTestDatabase('user_repo');
  pool = createPool(database.url, logger);
  await migrate(pool, [eventsMigrations, userServiceMigrations], logger);
  repository = new PgUserRepository(pool);
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE users, outbox');
});

function newUser(email: string, name = 'Ada', now = new Date()): User {
  const created = User.create({ email, name }, now);
  if (!created.ok) throw created.error;
  return created.value;
}

function unwrap<T>(result: Result<T, UserError>): T {
  if (!result.ok) throw result.error;
  return result.value;
}

async function outbox(): Promise<{ type: string; key: string; topic: string; headers: Record<string, string>; payload: Record<string, unknown> }[]> {
  const { rows } = await pool.query('SELECT type, key, topic, headers, payload FROM outbox ORDER BY seq');
  return rows;
}

async function countUsers(): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
  return rows[0]!.n;
}

describe('PgUserRepository', () => {
  it('stores a new user and enqueues user.created in the outbox', async () => {
    const user = newUser('Ada@Example.com');
    unwrap(await repository.save(user));

    const found = await repository.findById(user.id);
    expect(found?.toSnapshot()).toEqual(user.toSnapshot());
    expect(found?.version).toBe(1);
    const { rows } = await pool.query('SELECT email FROM users WHERE id = $1', [user.id]);
    expect(rows[0].email).toBe('ada@example.com');

    expect(await outbox()).toEqual([
      {
        type: 'user.created',
        key: user.id,
        topic: 'user.events',
        headers: expect.objectContaining({ event_type: 'user.created', version: '1.0' }),
        payload: { user_id: user.id, email: 'ada@example.com', name: 'Ada', status: 'pending', created_at: user.createdAt.toISOString() },
      },
    ]);
  });

  it('finds nothing for an unknown id', async () => {
    expect(await repository.findById('00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });

  it('refuses a second user with the same e-mail in another case, writing nothing', async () => {
    unwrap(await repository.save(newUser('grace@example.com')));
    const result = await repository.save(newUser('GRACE@example.com', 'Grace'));
    expect(!result.ok && result.error.code).toBe('USER.EMAIL_TAKEN');
    expect(!result.ok && result.error.field).toBe('email');
    expect(await countUsers()).toBe(1);
    expect(await outbox()).toHaveLength(1);
  });

  it('lets exactly one of several concurrent sign-ups with one e-mail win', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => repository.save(newUser('race@example.com', `Racer ${i}`))));
    expect(results.filter((result) => result.ok)).toHaveLength(1);
    expect(results.filter((result) => !result.ok).map((result) => !result.ok && result.error.code)).toEqual(Array(4).fill('USER.EMAIL_TAKEN'));
    expect(await countUsers()).toBe(1);
    expect(await outbox()).toHaveLength(1);
  });

  it('updates a stored user, bumps its version and enqueues user.updated', async () => {
    const user = newUser('linus@example.com');
    unwrap(await repository.save(user));
    const loaded = (await repository.findById(user.id))!;
    const later = new Date(user.createdAt.getTime() + 1_000);
    unwrap(loaded.update({ name: 'Linus T', status: 'inactive' }, later));
    unwrap(await repository.save(loaded));

    const reloaded = (await repository.findById(user.id))!;
    expect(reloaded.toSnapshot()).toMatchObject({ name: 'Linus T', status: 'inactive', createdAt: user.createdAt, updatedAt: later });
    expect(reloaded.version).toBe(2);
    const messages = await outbox();
    expect(messages.map((message) => message.type)).toEqual(['user.created', 'user.updated']);
    expect(messages[1]!.payload).toEqual({ user_id: user.id, email: 'linus@example.com', name: 'Linus T', status: 'inactive', updated_at: later.toISOString() });
  });

  it('refuses to write over a change made since the user was read, writing nothing', async () => {
    const user = newUser('stale@example.com');
    unwrap(await repository.save(user));
    const first = (await repository.findById(user.id))!;
    const second = (await repository.findById(user.id))!;
    unwrap(first.activate());
    unwrap(await repository.save(first));
    unwrap(second.update({ name: 'Late' }));

    const result = await repository.save(second);
    expect(!result.ok && result.error.code).toBe('USER.CONCURRENTLY_MODIFIED');
    expect((await repository.findById(user.id))!.toSnapshot()).toMatchObject({ name: 'Ada', status: 'active' });
    expect((await outbox()).map((message) => message.type)).toEqual(['user.created', 'user.updated']);
  });

  it('pages through users oldest first and counts them all', async () => {
    const base = Date.parse('2025-01-01T00:00:00Z');
    for (let i = 0; i < 5; i += 1) unwrap(await repository.save(newUser(`u${i}@example.com`, `User ${i}`, new Date(base + i * 1_000))));

    const first = await repository.findPage({ offset: 0, limit: 2 });
    expect(first.total).toBe(5);
    expect(first.users.map((user) => user.email)).toEqual(['u0@example.com', 'u1@example.com']);
    const last = await repository.findPage({ offset: 4, limit: 2 });
    expect(last.users.map((user) => user.email)).toEqual(['u4@example.com']);
    const beyond = await repository.findPage({ offset: 10, limit: 2 });
    expect(beyond).toEqual({ users: [], total: 5 });
  });

  it('deletes a user and enqueues user.deleted; a stale delete writes nothing', async () => {
    const user = newUser('gone@example.com');
    unwrap(await repository.save(user));
    const loaded = (await repository.findById(user.id))!;
    const stale = (await repository.findById(user.id))!;
    const at = new Date();
    loaded.delete(at);
    unwrap(await repository.delete(loaded));

    expect(await repository.findById(user.id)).toBeUndefined();
    stale.delete();
    const again = await repository.delete(stale);
    expect(!again.ok && again.error.code).toBe('USER.CONCURRENTLY_MODIFIED');
    const messages = await outbox();
    expect(messages.map((message) => message.type)).toEqual(['user.created', 'user.deleted']);
    expect(messages[1]!.payload).toEqual({ user_id: user.id, deleted_at: at.toISOString() });
  });

  it('keeps the user and its outbox message in one transaction: when the outbox write fails, no user is stored', async () => {
    await pool.query(`
      CREATE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'outbox unavailable'; END $$;
      CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_outbox();
    `);
    try {
      await expect(repository.save(newUser('atomic@example.com'))).rejects.toThrow('outbox unavailable');
      expect(await countUsers()).toBe(0);
    } finally {
      await pool.query('DROP TRIGGER refuse_outbox ON outbox; DROP FUNCTION refuse_outbox()');
    }
  });

  it('rejects rows that break the table constraints (status, normalized e-mail)', async () => {
    const insert = (email: string, status: string) =>
      pool.query(`INSERT INTO users (id, email, name, status, version, created_at, updated_at) VALUES (gen_random_uuid(), $1, 'X', $2, 1, now(), now())`, [email, status]);
    await expect(insert('ok@example.com', 'deleted')).rejects.toThrow(/users_status_check/);
    await expect(insert('Upper@example.com', 'pending')).rejects.toThrow(/users_email_normalized/);
  });
});
