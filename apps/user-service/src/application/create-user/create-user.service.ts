import { ok, type Result } from '../../domain/result.js';
import { User, type UserSnapshot } from '../../domain/user.entity.js';
import type { UserError } from '../../domain/user.errors.js';
import type { UserRepository } from '../user.repository.js';

/** Input of {@link CreateUserService}: seed 002's `CreateUserRequest`. */
export interface CreateUserCommand {
  email: string;
  name: string;
}

/**
 * Registers a user (seed 002's `CreateUser`): a new pending user and its `user.created` event,
 * stored together.
 */
export class CreateUserService {
  constructor(private readonly users: UserRepository) {}

  /**
   * @returns the new user, or `USER.INVALID_EMAIL`, `USER.INVALID_NAME`, `USER.EMAIL_TAKEN`
   * (the database's unique index decides, so of two concurrent sign-ups with one address exactly
   * one succeeds).
   */
  async execute(command: CreateUserCommand): Promise<Result<UserSnapshot, UserError>> {
    const created = User.create(command);
    if (!created.ok) return created;
    const saved = await this.users.save(created.value);
    return saved.ok ? ok(created.value.toSnapshot()) : saved;
  }
}
