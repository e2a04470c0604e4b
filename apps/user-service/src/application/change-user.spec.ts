import { describe, expect, it } from 'vitest';
import { err, ok, type Result } from '../domain/result.js';
import { User, type StoredUser } from '../domain/user.entity.js';
import { UserError, UserErrorCode } from '../domain/user.errors.js';
import { changeUser, maxChangeAttempts } from './change-user.js';
import type { PageQuery, UserPage, UserRepository } from './user.repository.js';

const id = '0b9f5a3e-5a7c-4d2e-9a51-2f8f7f1d7c10';

/**
 * An in-memory repository whose stored row another writer changes `racesToLose` times between
 * our read and our write, to drive the retry logic of changeUser.
 */
class RacingRepository implements UserRepository {
  reads = 0;
  writes: string[] = [];
  constructor(
    private row: StoredUser | undefined,
    private racesToLose: number,
  ) {}

  async findById(): Promise<User | undefined> {
    this.reads += 1;
    return this.row === undefined ? undefined : User.restore(this.row);
  }

  async findPage(_query: PageQuery): Promise<UserPage> {
    throw new Error('not used');
  }

  async save(user: User): Promise<Result<void, UserError>> {
    return this.write(user, 'save');
  }

  async delete(user: User): Promise<Result<void, UserError>> {
    return this.write(user, 'delete');
  }

  private write(user: User, kind: string): Result<void, UserError> {
    if (this.racesToLose > 0 && this.row !== undefined) {
      this.racesToLose -= 1;
      // Someone else activated the user meanwhile.
      this.row = { ...this.row, status: 'active', version: this.row.version + 1 };
    }
    if (this.row === undefined || this.row.version !== user.version) {
      return err(new UserError(UserErrorCode.concurrentlyModified, 'stale'));
    }
    this.writes.push(`${kind}:${user.pullEvents().map((event) => event.type).join(',')}`);
    this.row = kind === 'delete' ? undefined : { ...user.toSnapshot(), version: user.version + 1 };
    return ok();
  }
}

function pendingRow(): StoredUser {
  const now = new Date('2025-01-01T00:00:00Z');
  return { id, email: 'ada@example.com', name: 'Ada', status: 'pending', createdAt: now, updatedAt: now, version: 1 };
}

describe('changeUser', () => {
  it('writes the change and its events when nobody interferes', async () => {
    const repository = new RacingRepository(pendingRow(), 0);
    const result = await changeUser(repository, id, (user) => user.activate());
    expect(result.ok && result.value.status).toBe('active');
    expect(repository.writes).toEqual(['save:user.updated']);
  });

  it('answers USER.NOT_FOUND for an unknown id without writing', async () => {
    const repository = new RacingRepository(undefined, 0);
    const result = await changeUser(repository, id, () => ok());
    expect(!result.ok && result.error.code).toBe('USER.NOT_FOUND');
    expect(repository.writes).toEqual([]);
  });

  it('re-applies the change to the fresh state after losing a race, so the loser gets the fresh answer', async () => {
    const repository = new RacingRepository(pendingRow(), 1);
    const result = await changeUser(repository, id, (user) => user.activate());
    expect(!result.ok && result.error.code).toBe('USER.NOT_PENDING');
    expect(repository.reads).toBe(2);
    expect(repository.writes).toEqual([]);
  });

  it('succeeds on a later attempt when the change still applies to the fresh state', async () => {
    const repository = new RacingRepository(pendingRow(), 2);
    const result = await changeUser(repository, id, (user) => user.update({ name: 'Countess' }));
    expect(result.ok && result.value).toMatchObject({ name: 'Countess', status: 'active' });
    expect(repository.reads).toBe(3);
  });

  it(`gives up with USER.CONCURRENTLY_MODIFIED after ${maxChangeAttempts} lost races`, async () => {
    const repository = new RacingRepository(pendingRow(), maxChangeAttempts);
    const result = await changeUser(repository, id, (user) => user.update({ name: 'Countess' }));
    expect(!result.ok && result.error.code).toBe('USER.CONCURRENTLY_MODIFIED');
    expect(repository.reads).toBe(maxChangeAttempts);
    expect(repository.writes).toEqual([]);
  });

  it('deletes through the repository delete', async () => {
    const repository = new RacingRepository(pendingRow(), 0);
    const result = await changeUser(
      repository,
      id,
      (user) => {
        user.delete();
        return ok();
      },
      'delete',
    );
    expect(result.ok).toBe(true);
    expect(repository.writes).toEqual(['delete:user.deleted']);
  });
});
