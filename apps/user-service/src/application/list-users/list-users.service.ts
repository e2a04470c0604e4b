import type { UserSnapshot } from '../../domain/user.entity.js';
import type { UserRepository } from '../user.repository.js';

/** Largest page size a caller may ask for. */
export const maxPageSize = 100;

/** Input of {@link ListUsersService}: 1-based page number and page size (1–{@link maxPageSize}). */
export interface ListUsersQuery {
  page: number;
  limit: number;
}

/** One page of users with seed 002's pagination numbers. */
export interface UserListPage {
  users: UserSnapshot[];
  page: number;
  limit: number;
  /** All users. */
  total: number;
  /** Pages of `limit` users needed for `total`; 0 when there are none. */
  pages: number;
}

/** Lists users page by page, oldest first (`GET /users?page&limit`). */
export class ListUsersService {
  constructor(private readonly users: UserRepository) {}

  /**
   * A page past the end is empty, not an error.
   *
   * @throws {RangeError} when `page` < 1 or `limit` is outside 1–100: the HTTP layer validates
   * these, so reaching here is a programming error.
   */
  async execute({ page, limit }: ListUsersQuery): Promise<UserListPage> {
    if (!Number.isSafeInteger(page) || page < 1) throw new RangeError(`page must be a positive integer, got ${page}`);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxPageSize) throw new RangeError(`limit must be 1-${maxPageSize}, got ${limit}`);
    const { users, total } = await this.users.findPage({ offset: (page - 1) * limit, limit });
    return { users: users.map((user) => user.toSnapshot()), page, limit, total, pages: Math.ceil(total / limit) };
  }
}
