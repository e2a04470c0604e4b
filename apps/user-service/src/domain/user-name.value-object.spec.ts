import { describe, expect, it } from 'vitest';
import { InvariantViolationError } from './user.errors.js';
import { maxUserNameLength, UserName } from './user-name.value-object.js';

describe('UserName', () => {
  it('trims surrounding whitespace', () => {
    const result = UserName.create('  Ada Lovelace \n');
    expect(result.ok && result.value.toString()).toBe('Ada Lovelace');
  });

  it.each(['', '   ', '\t\n'])('rejects the blank name %j as USER.INVALID_NAME', (raw) => {
    const result = UserName.create(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('USER.INVALID_NAME');
      expect(result.error.field).toBe('name');
    }
  });

  it(`accepts ${maxUserNameLength} characters and rejects ${maxUserNameLength + 1}`, () => {
    expect(UserName.create('n'.repeat(maxUserNameLength)).ok).toBe(true);
    const tooLong = UserName.create('n'.repeat(maxUserNameLength + 1));
    expect(tooLong.ok).toBe(false);
    if (!tooLong.ok) expect(tooLong.error.message).toContain(`longer than ${maxUserNameLength}`);
  });

  it('restores a stored name and throws on an untrimmed one', () => {
    expect(UserName.restore('Ada').toString()).toBe('Ada');
    expect(() => UserName.restore(' Ada')).toThrow(InvariantViolationError);
  });
});
