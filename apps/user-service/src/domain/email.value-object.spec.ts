import { describe, expect, it } from 'vitest';
import { Email, maxEmailLength } from './email.value-object.js';
import { InvariantViolationError } from './user.errors.js';

function valueOf(raw: string): string {
  const result = Email.create(raw);
  if (!result.ok) throw new Error(`expected ${raw} to be valid: ${result.error.message}`);
  return result.value.toString();
}

function errorOf(raw: string) {
  const result = Email.create(raw);
  if (result.ok) throw new Error(`expected ${raw} to be invalid`);
  return result.error;
}

describe('Email', () => {
  it('normalizes to trimmed lower case', () => {
    expect(valueOf('  Ada.Lovelace@Example.COM ')).toBe('ada.lovelace@example.com');
  });

  it.each(['a@b.co', 'first.last+tag@sub.example.org', "o'brien@example.ie", 'x_y-z@a-b.example'])('accepts %s', (raw) => {
    expect(valueOf(raw)).toBe(raw.toLowerCase());
  });

  it.each([
    ['', 'e-mail is required'],
    ['   ', 'e-mail is required'],
    ['plainaddress', 'not a valid address'],
    ['@example.com', 'not a valid address'],
    ['ada@', 'not a valid address'],
    ['ada@localhost', 'not a valid address'],
    ['ada@@example.com', 'not a valid address'],
    ['ada..lovelace@example.com', 'not a valid address'],
    ['.ada@example.com', 'not a valid address'],
    ['ada@-example.com', 'not a valid address'],
    ['ada@example..com', 'not a valid address'],
    ['ada lovelace@example.com', 'not a valid address'],
    ['ada@exa mple.com', 'not a valid address'],
    ['"ada"@example.com', 'not a valid address'],
    [`${'a'.repeat(65)}@example.com`, 'not a valid address'],
  ])('rejects %j as USER.INVALID_EMAIL on the email field', (raw, reason) => {
    const error = errorOf(raw);
    expect(error.code).toBe('USER.INVALID_EMAIL');
    expect(error.field).toBe('email');
    expect(error.message).toContain(reason);
  });

  it(`accepts exactly ${maxEmailLength} characters and rejects one more`, () => {
    // 189 characters of domain leave exactly 64 for the local part, its own limit.
    const domain = `${'d'.repeat(61)}.${'e'.repeat(61)}.${'f'.repeat(61)}.com`;
    const atLimit = `${'a'.repeat(maxEmailLength - domain.length - 1)}@${domain}`;
    expect(atLimit).toHaveLength(maxEmailLength);
    expect(valueOf(atLimit)).toBe(atLimit);
    expect(errorOf(`a${atLimit}`).message).toContain(`longer than ${maxEmailLength}`);
  });

  it('treats addresses differing only in case as equal', () => {
    const a = Email.create('Ada@Example.com');
    const b = Email.create('ada@example.COM');
    expect(a.ok && b.ok && a.value.equals(b.value)).toBe(true);
  });

  it('restores a stored normalized address and throws on one that is not', () => {
    expect(Email.restore('ada@example.com').toString()).toBe('ada@example.com');
    expect(() => Email.restore('Ada@example.com')).toThrow(InvariantViolationError);
    expect(() => Email.restore('nope')).toThrow(InvariantViolationError);
  });
});
