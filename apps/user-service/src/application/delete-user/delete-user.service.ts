import { ok, type Result } from '../../domain/result.js';
import type { UserError } from '../../domain/user.errors.js';
import { changeUser } from '../change-user.js';
import type { UserRepository } from '../user.repository.js';

/** Deletes a user and publishes `user.deleted` (`DELETE /users/{id}`). */
export class DeleteUserService {
  constructor(private readonly users: UserRepository) {}

  /** @returns nothing, or `USER.NOT_FOUND` (also for the loser of two concurrent deletions). */
  async execute(id: string): Promise<Result<void, UserError>> {
    const deleted = await changeUser(
      this.users,
      id,
      (user) => {
        user.delete();
        return ok();
      },
      'delete',
    );
    return deleted.ok ? ok() : deleted;
  }
}
