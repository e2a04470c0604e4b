import type { Result } from '../domain/result.js';
import type { User } from '../domain/user.entity.js';
import type { UserError } from '../domain/user.errors.js';

/** A page request: `offset` users skipped, at most `limit` returned. */
export interface PageQuery {
  offset: number;
  limit: number;
}

/** One page of users, oldest first, and how many users exist in all. */
export interface UserPage {
  users: User[];
  total: number;
}

/**
 * The persistence port of the user context (seed 002's `UserRepository`). An adapter stores the
 * aggregate and, in the same transaction, the domain events it recorded (transactional outbox),
 * so a state change is never published without being stored, nor stored without being published.
 */
export interface UserRepository {
  /** The user with this id (a UUID), or undefined. */
  findById(id: string): Promise<User | undefined>;

  /** Users ordered by creation time, then id; `total` counts them all. */
  findPage(query: PageQuery): Promise<UserPage>;

  /**
   * Inserts a new user (version 0) or updates a restored one, and enqueues its pulled events.
   *
   * @returns `USER.EMAIL_TAKEN` when another user has the address; `USER.CONCURRENTLY_MODIFIED`
   * when the stored row changed or vanished since `user` was read.
   */
  save(user: User): Promise<Result<void, UserError>>;

  /**
   * Deletes a restored user and enqueues its pulled events (`user.deleted`).
   *
   * @returns `USER.CONCURRENTLY_MODIFIED` when the stored row changed or vanished since it was read.
   */
  delete(user: User): Promise<Result<void, UserError>>;
}
