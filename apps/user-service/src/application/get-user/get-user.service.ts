import { err, ok, type Result } from '../../domain/result.js';
import type { UserSnapshot } from '../../domain/user.entity.js';
import { UserError, UserErrorCode } from '../../domain/user.errors.js';
import type { UserRepository } from '../user.repository.js';

/** Reads one user (`GET /users/{id}`; order-service's verify-user step calls it). */
export class GetUserService {
  constructor(private readonly users: UserRepository) {}

  /** @returns the user, or `USER.NOT_FOUND`. */
  async execute(id: string): Promise<Result<UserSnapshot, UserError>> {
    const user = await this.users.findById(id);
    return user === undefined ? err(new UserError(UserErrorCode.notFound, `no user with id ${id}`)) : ok(user.toSnapshot());
  }
}
