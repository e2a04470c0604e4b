import { enqueueMessage } from '@msr/events';
import { withTransaction } from '@msr/service-defaults';
import type pg from 'pg';
import type { PageQuery, UserPage, UserRepository } from '../application/user.repository.js';
import { err, ok, type Result } from '../domain/result.js';
import { User } from '../domain/user.entity.js';
import { UserError, UserErrorCode } from '../domain/user.errors.js';
import type { UserDomainEvent } from '../domain/user.events.js';
import { toUserMessage } from './user.messages.js';

interface UserRow {
  id: string;
  email: string;
  name: string;
  status: string;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const columns = 'id, email, name, status, version, created_at, updated_at';

/** PostgreSQL's unique_violation. */
const uniqueViolation = '23505';

/**
 * {@link UserRepository} on PostgreSQL (the `users` table of the `users` database). Every write
 * runs in one transaction with the aggregate's domain events, enqueued to the outbox as
 * integration messages (`@msr/events` `enqueueMessage`): the row and its events commit together
 * or not at all. Updates and deletes check the row `version` read earlier (optimistic
 * concurrency); the unique constraint on the normalized e-mail decides races between sign-ups.
 */
export class PgUserRepository implements UserRepository {
  constructor(private readonly pool: pg.Pool) {}

  async findById(id: string): Promise<User | undefined> {
    const { rows } = await this.pool.query<UserRow>({ name: 'users_find_by_id', text: `SELECT ${columns} FROM users WHERE id = $1`, values: [id] });
    return rows[0] === undefined ? undefined : toUser(rows[0]);
  }

  async findPage({ offset, limit }: PageQuery): Promise<UserPage> {
    // One snapshot for the count and the page, so `total` agrees with the rows.
    return withTransaction(this.pool, async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const count = await tx.query<{ total: string }>('SELECT count(*) AS total FROM users');
      const page = await tx.query<UserRow>(`SELECT ${columns} FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2`, [limit, offset]);
      return { users: page.rows.map(toUser), total: Number(count.rows[0]?.total ?? 0) };
    });
  }

  async save(user: User): Promise<Result<void, UserError>> {
    const events = user.pullEvents();
    try {
      return await withTransaction(this.pool, async (tx) => {
        if (user.version === 0) {
          await tx.query(`INSERT INTO users (${columns}) VALUES ($1, $2, $3, $4, 1, $5, $6)`, [
            user.id,
            user.email,
            user.name,
            user.status,
            user.createdAt,
            user.updatedAt,
          ]);
        } else {
          const { rowCount } = await tx.query(
            'UPDATE users SET name = $3, status = $4, updated_at = $5, version = version + 1 WHERE id = $1 AND version = $2',
            [user.id, user.version, user.name, user.status, user.updatedAt],
          );
          if (rowCount !== 1) return staleUser(user);
        }
        await enqueueAll(tx, events);
        return ok();
      });
    } catch (error) {
      if (isUniqueViolation(error, 'users_email_key')) {
        return err(new UserError(UserErrorCode.emailTaken, `another user already has the e-mail ${user.email}`, 'email'));
      }
      throw error;
    }
  }

  async delete(user: User): Promise<Result<void, UserError>> {
    const events = user.pullEvents();
    return withTransaction(this.pool, async (tx) => {
      const { rowCount } = await tx.query('DELETE FROM users WHERE id = $1 AND version = $2', [user.id, user.version]);
      if (rowCount !== 1) return staleUser(user);
      await enqueueAll(tx, events);
      return ok();
    });
  }
}

async function enqueueAll(tx: pg.PoolClient, events: readonly UserDomainEvent[]): Promise<void> {
  for (const event of events) await enqueueMessage(tx, toUserMessage(event));
}

function staleUser(user: User): Result<never, UserError> {
  return err(new UserError(UserErrorCode.concurrentlyModified, `user ${user.id} was changed or deleted concurrently`));
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const { code, constraint: violated } = (error ?? {}) as { code?: string; constraint?: string };
  return code === uniqueViolation && violated === constraint;
}

function toUser(row: UserRow): User {
  return User.restore({
    id: row.id,
    email: row.email,
    name: row.name,
    status: row.status,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
}
