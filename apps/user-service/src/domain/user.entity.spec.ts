import { describe, expect, it } from 'vitest';
import type { Result } from './result.js';
import { User, type StoredUser } from './user.entity.js';
import { InvariantViolationError, type UserError } from './user.errors.js';

const t0 = new Date('2025-01-01T00:00:00.000Z');
const t1 = new Date('2025-01-02T00:00:00.000Z');

function unwrap<T>(result: Result<T, UserError>): T {
  if (!result.ok) throw new Error(`unexpected ${result.error.code}: ${result.error.message}`);
  return result.value;
}

function failure<T>(result: Result<T, UserError>): UserError {
  if (result.ok) throw new Error('expected a failure');
  return result.error;
}

function stored(overrides: Partial<StoredUser> = {}): User {
  return User.restore({
    id: '6f1c1b9e-8a63-4a57-9d3a-6b1f3c2f0e11',
    email: 'ada@example.com',
    name: 'Ada',
    status: 'pending',
    createdAt: t0,
    updatedAt: t0,
    version: 1,
    ...overrides,
  });
}

describe('User.create', () => {
  it('registers a pending user with a UUID, normalized e-mail, trimmed name and user.created', () => {
    const user = unwrap(User.create({ email: ' Ada@Example.com ', name: ' Ada ' }, t0));
    expect(user.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(user.toSnapshot()).toEqual({ id: user.id, email: 'ada@example.com', name: 'Ada', status: 'pending', createdAt: t0, updatedAt: t0 });
    expect(user.version).toBe(0);
    expect(user.pullEvents()).toEqual([{ type: 'user.created', user: user.toSnapshot(), occurredAt: t0 }]);
  });

  it('gives every user a different id', () => {
    const a = unwrap(User.create({ email: 'a@example.com', name: 'A' }));
    const b = unwrap(User.create({ email: 'a@example.com', name: 'A' }));
    expect(a.id).not.toBe(b.id);
  });

  it('returns USER.INVALID_EMAIL for a bad e-mail and USER.INVALID_NAME for a blank name', () => {
    expect(failure(User.create({ email: 'nope', name: 'Ada' })).code).toBe('USER.INVALID_EMAIL');
    expect(failure(User.create({ email: 'ada@example.com', name: ' ' })).code).toBe('USER.INVALID_NAME');
  });
});

describe('User.restore', () => {
  it('records no event', () => {
    expect(stored().pullEvents()).toEqual([]);
  });

  it('throws when the stored row breaks an invariant', () => {
    expect(() => stored({ status: 'deleted' })).toThrow(InvariantViolationError);
    expect(() => stored({ email: 'not-an-email' })).toThrow(InvariantViolationError);
    expect(() => stored({ name: '' })).toThrow(InvariantViolationError);
  });
});

describe('User.activate', () => {
  it('activates a pending user, bumps updatedAt and records user.updated', () => {
    const user = stored();
    unwrap(user.activate(t1));
    expect(user.status).toBe('active');
    expect(user.updatedAt).toEqual(t1);
    expect(user.createdAt).toEqual(t0);
    expect(user.pullEvents()).toEqual([{ type: 'user.updated', user: user.toSnapshot(), occurredAt: t1 }]);
  });

  it.each(['active', 'inactive'])('refuses a user that is %s with USER.NOT_PENDING and changes nothing', (status) => {
    const user = stored({ status });
    const error = failure(user.activate(t1));
    expect(error.code).toBe('USER.NOT_PENDING');
    expect(user.status).toBe(status);
    expect(user.updatedAt).toEqual(t0);
    expect(user.pullEvents()).toEqual([]);
  });
});

describe('User.deactivate', () => {
  it.each(['pending', 'active'])('switches a %s user off and records user.updated', (status) => {
    const user = stored({ status });
    user.deactivate(t1);
    expect(user.status).toBe('inactive');
    expect(user.pullEvents().map((event) => event.type)).toEqual(['user.updated']);
  });

  it('is a no-op for an inactive user', () => {
    const user = stored({ status: 'inactive' });
    user.deactivate(t1);
    expect(user.updatedAt).toEqual(t0);
    expect(user.pullEvents()).toEqual([]);
  });
});

describe('User.update', () => {
  it('changes name and status together with one user.updated', () => {
    const user = stored();
    unwrap(user.update({ name: '  Countess ', status: 'active' }, t1));
    expect(user.toSnapshot()).toMatchObject({ name: 'Countess', status: 'active', updatedAt: t1 });
    const events = user.pullEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'user.updated', user: { name: 'Countess', status: 'active' } });
  });

  it('changes nothing and records nothing when the values are the current ones', () => {
    const user = stored({ status: 'active' });
    unwrap(user.update({ name: 'Ada ', status: 'active' }, t1));
    unwrap(user.update({}, t1));
    expect(user.updatedAt).toEqual(t0);
    expect(user.pullEvents()).toEqual([]);
  });

  it('reactivates an inactive user', () => {
    const user = stored({ status: 'inactive' });
    unwrap(user.update({ status: 'active' }, t1));
    expect(user.status).toBe('active');
  });

  it.each(['active', 'inactive'])('refuses to send a %s user back to pending', (status) => {
    const user = stored({ status });
    expect(failure(user.update({ status: 'pending' }, t1)).code).toBe('USER.INVALID_STATUS_TRANSITION');
    expect(user.status).toBe(status);
  });

  it('applies nothing when one of the changes is invalid', () => {
    const user = stored();
    expect(failure(user.update({ name: '', status: 'active' }, t1)).code).toBe('USER.INVALID_NAME');
    const nameOk = stored({ status: 'active' });
    expect(failure(nameOk.update({ name: 'Countess', status: 'pending' }, t1)).code).toBe('USER.INVALID_STATUS_TRANSITION');
    expect(user.toSnapshot()).toMatchObject({ name: 'Ada', status: 'pending', updatedAt: t0 });
    expect(nameOk.toSnapshot()).toMatchObject({ name: 'Ada', status: 'active', updatedAt: t0 });
    expect([...user.pullEvents(), ...nameOk.pullEvents()]).toEqual([]);
  });
});

describe('User.delete', () => {
  it('records user.deleted with the user id', () => {
    const user = stored();
    user.delete(t1);
    expect(user.pullEvents()).toEqual([{ type: 'user.deleted', userId: user.id, occurredAt: t1 }]);
  });
});

describe('User.pullEvents', () => {
  it('returns events in order and clears them', () => {
    const user = unwrap(User.create({ email: 'ada@example.com', name: 'Ada' }, t0));
    unwrap(user.activate(t1));
    expect(user.pullEvents().map((event) => event.type)).toEqual(['user.created', 'user.updated']);
    expect(user.pullEvents()).toEqual([]);
  });
});
