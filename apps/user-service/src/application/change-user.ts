import { err, ok, type Result } from '../domain/result.js';
import type { User, UserSnapshot } from '../domain/user.entity.js';
import { UserError, UserErrorCode } from '../domain/user.errors.js';
import type { UserRepository } from './user.repository.js';

/** How often a change is re-applied to a freshly read user after losing a concurrent race. */
export const maxChangeAttempts = 3;

/**
 * Read a user, apply `change`, write it back with an optimistic version check, shared by the
 * use cases that change an existing user. When another request changed the same user in between,
 * the whole read-change-write is repeated on the fresh state, so the loser of a race gets the
 * answer the fresh state deserves (e.g. `USER.NOT_PENDING` for a second activation) instead of a
 * lost update.
 *
 * @param change - the domain transition; its failure is returned unchanged.
 * @param persist - `save` for a change, `delete` for a deletion.
 * @returns the user as written, `USER.NOT_FOUND`, the transition's failure, or
 * `USER.CONCURRENTLY_MODIFIED` after {@link maxChangeAttempts} lost races.
 */
export async function changeUser(
  repository: UserRepository,
  id: string,
  change: (user: User) => Result<void, UserError>,
  persist: 'save' | 'delete' = 'save',
): Promise<Result<UserSnapshot, UserError>> {
  for (let attempt = 1; ; attempt += 1) {
    const user = await repository.findById(id);
    if (user === undefined) return err(new UserError(UserErrorCode.notFound, `no user with id ${id}`));
    const changed = change(user);
    if (!changed.ok) return changed;
    const written = persist === 'save' ? await repository.save(user) : await repository.delete(user);
    if (written.ok) return ok(user.toSnapshot());
    if (written.error.code !== UserErrorCode.concurrentlyModified || attempt >= maxChangeAttempts) return written;
  }
}
