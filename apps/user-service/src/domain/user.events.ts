import type { UserSnapshot } from './user.entity.js';

/** Raised when a user was registered (becomes the `user.created` integration event). */
export interface UserCreated {
  type: 'user.created';
  user: UserSnapshot;
  occurredAt: Date;
}

/** Raised when a user's name or status changed (becomes `user.updated`). */
export interface UserUpdated {
  type: 'user.updated';
  user: UserSnapshot;
  occurredAt: Date;
}

/** Raised when a user was deleted (becomes `user.deleted`). */
export interface UserDeleted {
  type: 'user.deleted';
  userId: string;
  occurredAt: Date;
}

/**
 * What happened to a user aggregate. The entity records these; the repository writes them to the
 * outbox in the same transaction as the state change (transactional outbox, SYSTEM.md Messaging).
 */
export type UserDomainEvent = UserCreated | UserUpdated | UserDeleted;
