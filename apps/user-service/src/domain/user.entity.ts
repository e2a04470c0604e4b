import { Email } from './email.value-object.js';
import { err, ok, type Result } from './result.js';
import { InvariantViolationError, UserError, UserErrorCode } from './user.errors.js';
import type { UserDomainEvent } from './user.events.js';
import { UserName } from './user-name.value-object.js';
import { isUserStatus, type UserStatus } from './user-status.js';

/** A plain, immutable view of a user: what use cases return and events carry. */
export interface UserSnapshot {
  readonly id: string;
  /** Normalized (lower-case) address. */
  readonly email: string;
  readonly name: string;
  readonly status: UserStatus;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A user as read from storage, not yet validated, with its row version (optimistic concurrency). */
export interface StoredUser extends Omit<UserSnapshot, 'status'> {
  readonly status: string;
  /** Number of times the row was written; 1 after the insert. */
  readonly version: number;
}

/** The changes `PUT /users/{id}` may ask for; absent fields stay as they are. */
export interface UserChanges {
  name?: string;
  status?: UserStatus;
}

interface UserProps {
  email: Email;
  name: UserName;
  status: UserStatus;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The user aggregate (seed 002's DDD example). State changes only through its methods, which
 * enforce the lifecycle `pending → active ⇄ inactive` (and `pending → inactive`) and record
 * domain events for the outbox. Expected failures are returned as `Result`s; broken invariants
 * are thrown.
 *
 * Load it, change it, save it once: the repository writes `version` back as a concurrency check.
 */
export class User {
  private events: UserDomainEvent[] = [];

  private constructor(
    /** UUID. */
    readonly id: string,
    private props: UserProps,
    /** Version of the stored row this was read from; 0 for a user not saved yet. */
    readonly version: number,
  ) {}

  /**
   * Registers a new, `pending` user and records `user.created`.
   *
   * @param now - creation time (injectable for tests).
   * @returns the user, or `USER.INVALID_EMAIL` / `USER.INVALID_NAME` (the e-mail is checked first).
   */
  static create(input: { email: string; name: string }, now: Date = new Date()): Result<User, UserError> {
    const email = Email.create(input.email);
    if (!email.ok) return email;
    const name = UserName.create(input.name);
    if (!name.ok) return name;
    const user = new User(crypto.randomUUID(), { email: email.value, name: name.value, status: 'pending', createdAt: now, updatedAt: now }, 0);
    user.events.push({ type: 'user.created', user: user.toSnapshot(), occurredAt: now });
    return ok(user);
  }

  /**
   * Rebuilds a user read from storage; records no event.
   *
   * @throws {InvariantViolationError} when the stored data breaks an invariant (bad e-mail, name or status).
   */
  static restore(stored: StoredUser): User {
    if (!isUserStatus(stored.status)) throw new InvariantViolationError(`stored status ${JSON.stringify(stored.status)} is invalid`);
    return new User(
      stored.id,
      {
        email: Email.restore(stored.email),
        name: UserName.restore(stored.name),
        status: stored.status,
        createdAt: stored.createdAt,
        updatedAt: stored.updatedAt,
      },
      stored.version,
    );
  }

  get email(): string {
    return this.props.email.toString();
  }

  get name(): string {
    return this.props.name.toString();
  }

  get status(): UserStatus {
    return this.props.status;
  }

  get createdAt(): Date {
    return this.props.createdAt;
  }

  get updatedAt(): Date {
    return this.props.updatedAt;
  }

  /**
   * Activates a pending user (seed 002's `ActivateUser`) and records `user.updated`.
   *
   * @returns `USER.NOT_PENDING` when the user is active or inactive already.
   */
  activate(now: Date = new Date()): Result<void, UserError> {
    if (this.props.status !== 'pending') {
      return err(new UserError(UserErrorCode.notPending, `user ${this.id} is ${this.props.status}, not pending`));
    }
    this.apply({ status: 'active' }, now);
    return ok();
  }

  /** Switches the user off; records `user.updated` unless it already was inactive. */
  deactivate(now: Date = new Date()): void {
    if (this.props.status !== 'inactive') this.apply({ status: 'inactive' }, now);
  }

  /**
   * Changes the name and/or the status in one step: all requested changes apply, or none.
   * Records one `user.updated` when anything actually changed; asking for the current values
   * changes nothing, not even `updatedAt`.
   *
   * Status rules: `active` from pending (activation) or inactive (reactivation); `inactive` from
   * anywhere; `pending` only while still pending.
   *
   * @returns `USER.INVALID_NAME` or `USER.INVALID_STATUS_TRANSITION`.
   */
  update(changes: UserChanges, now: Date = new Date()): Result<void, UserError> {
    let name: UserName | undefined;
    if (changes.name !== undefined) {
      const parsed = UserName.create(changes.name);
      if (!parsed.ok) return parsed;
      name = parsed.value.equals(this.props.name) ? undefined : parsed.value;
    }
    const status = changes.status === this.props.status ? undefined : changes.status;
    if (status === 'pending') {
      return err(new UserError(UserErrorCode.invalidStatusTransition, `user ${this.id} is ${this.props.status} and cannot return to pending`, 'status'));
    }
    if (name !== undefined || status !== undefined) this.apply({ ...(name && { name }), ...(status && { status }) }, now);
    return ok();
  }

  /** Marks the user as deleted: records `user.deleted`. The repository removes the row. */
  delete(now: Date = new Date()): void {
    this.events.push({ type: 'user.deleted', userId: this.id, occurredAt: now });
  }

  /** The events recorded since the user was created or restored, in order; clears them. */
  pullEvents(): UserDomainEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }

  /** The current state as a plain object. */
  toSnapshot(): UserSnapshot {
    return {
      id: this.id,
      email: this.email,
      name: this.name,
      status: this.status,
      createdAt: this.createdAt,
      updatedAt: this.updatedAt,
    };
  }

  private apply(changes: Partial<Pick<UserProps, 'name' | 'status'>>, now: Date): void {
    this.props = { ...this.props, ...changes, updatedAt: now };
    this.events.push({ type: 'user.updated', user: this.toSnapshot(), occurredAt: now });
  }
}
