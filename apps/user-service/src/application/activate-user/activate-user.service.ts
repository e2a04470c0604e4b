import type { Result } from '../../domain/result.js';
import type { UserSnapshot } from '../../domain/user.entity.js';
import type { UserError } from '../../domain/user.errors.js';
import { changeUser } from '../change-user.js';
import type { UserRepository } from '../user.repository.js';

/** Activates a pending user (seed 002's `ActivateUser`, `POST /users/{id}/activate`). */
export class ActivateUserService {
  constructor(private readonly users: UserRepository) {}

  /**
   * @returns the activated user, or `USER.NOT_FOUND`, `USER.NOT_PENDING` (also for the loser of
   * two concurrent activations), `USER.CONCURRENTLY_MODIFIED`.
   */
  execute(id: string): Promise<Result<UserSnapshot, UserError>> {
    return changeUser(this.users, id, (user) => user.activate());
  }
}
