import type { Result } from '../../domain/result.js';
import type { UserChanges, UserSnapshot } from '../../domain/user.entity.js';
import type { UserError } from '../../domain/user.errors.js';
import { changeUser } from '../change-user.js';
import type { UserRepository } from '../user.repository.js';

/** Input of {@link UpdateUserService}: seed 002's `UpdateUserRequest` for one user. */
export interface UpdateUserCommand extends UserChanges {
  id: string;
}

/** Changes a user's name and/or status (`PUT /users/{id}`). */
export class UpdateUserService {
  constructor(private readonly users: UserRepository) {}

  /**
   * @returns the user as now stored, or `USER.NOT_FOUND`, `USER.INVALID_NAME`,
   * `USER.INVALID_STATUS_TRANSITION`, `USER.CONCURRENTLY_MODIFIED`.
   */
  execute({ id, ...changes }: UpdateUserCommand): Promise<Result<UserSnapshot, UserError>> {
    return changeUser(this.users, id, (user) => user.update(changes));
  }
}
