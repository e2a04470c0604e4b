import { describe, expect, it } from 'vitest';
import { Topics } from './topics.js';
import { createMessage, decodeMessage, encodeMessage, InvalidMessageError, type WireRecord } from './envelope.js';

const userId = '0b8f3c1e-5d0a-4f5e-9a41-3f1c2b7d9e10';
const orderId = '6c2d8e4a-1b3f-4c5d-8e9f-0a1b2c3d4e5f';
const userCreated = { user_id: userId, email: 'ada@example.com', name: 'Ada', status: 'pending' as const, created_at: '2025-01-02T03:04:05.000Z' };

function validRecord(): WireRecord {
  return encodeMessage(createMessage('user.created', userCreated, { key: userId }));
}

describe('message envelope', () => {
  it('round-trips a message through a Kafka record unchanged', () => {
    const message = createMessage('payment.authorize', { order_id: orderId, user_id: userId, amount_cents: 1250 }, {
      key: orderId,
      correlationId: orderId,
      causationId: userId,
      replyTo: Topics.orderSagaReplies,
    });

    expect(decodeMessage(encodeMessage(message))).toEqual(message);
  });

  it('carries type and version in the event_type and version headers and the payload as JSON', () => {
    const record = validRecord();

    expect(record.headers).toMatchObject({ event_type: 'user.created', version: '1.0' });
    expect(record.key).toBe(userId);
    expect(JSON.parse(record.value)).toEqual(userCreated);
  });

  it('defaults the correlation id to the key and leaves out absent causation and reply headers', () => {
    const message = createMessage('user.deleted', { user_id: userId, deleted_at: '2025-01-02T03:04:05Z' }, { key: userId });
    const record = encodeMessage(message);

    expect(message.correlation_id).toBe(userId);
    expect(message.causation_id).toBeNull();
    expect(record.headers).not.toHaveProperty('causation_id');
    expect(record.headers).not.toHaveProperty('reply_to');
    expect(decodeMessage(record)).toEqual(message);
  });

  it('keeps a deterministic message id given by the producer', () => {
    const id = 'f47ac10b-58cc-4372-a567-0e02b2c3d479';
    const message = createMessage('payment.refund', { order_id: orderId, reason: 'saga compensation' }, { key: orderId, id });

    expect(message.id).toBe(id);
    expect(encodeMessage(message).headers['message_id']).toBe(id);
    expect(decodeMessage(encodeMessage(message)).id).toBe(id);
  });

  it('gives each message a fresh random id by default', () => {
    const first = createMessage('user.deleted', { user_id: userId, deleted_at: '2025-01-02T03:04:05Z' }, { key: userId });
    const second = createMessage('user.deleted', { user_id: userId, deleted_at: '2025-01-02T03:04:05Z' }, { key: userId });

    expect(first.id).not.toBe(second.id);
  });

  it('rejects a payload that does not match the catalog when creating a message', () => {
    expect(() => createMessage('payment.authorize', { order_id: orderId, user_id: userId, amount_cents: 0 }, { key: orderId })).toThrow(InvalidMessageError);
    expect(() =>
      // A caller outside TypeScript's reach (e.g. data from JSON) can pass anything.
      createMessage('user.created', { ...userCreated, user_id: 'not-a-uuid' }, { key: userId }),
    ).toThrow(/invalid user.created payload/);
  });

  it('rejects an empty key or correlation id when creating a message', () => {
    const payload = { user_id: userId, deleted_at: '2025-01-02T03:04:05Z' };

    expect(() => createMessage('user.deleted', payload, { key: '' })).toThrow(/non-empty key/);
    expect(() => createMessage('user.deleted', payload, { key: userId, correlationId: '' })).toThrow(/non-empty correlation id/);
  });

  it('accepts a newer minor version of a known type', () => {
    const record = validRecord();

    expect(decodeMessage({ ...record, headers: { ...record.headers, version: '1.3' } }).version).toBe('1.3');
  });

  it.each([
    ['a missing event_type header', (r: WireRecord) => ({ ...r, headers: withoutHeader(r.headers, 'event_type') }), /invalid headers/],
    ['a missing version header', (r: WireRecord) => ({ ...r, headers: withoutHeader(r.headers, 'version') }), /invalid headers/],
    ['a message id that is not a UUID', (r: WireRecord) => ({ ...r, headers: { ...r.headers, message_id: '42' } }), /invalid headers/],
    ['a malformed version', (r: WireRecord) => ({ ...r, headers: { ...r.headers, version: 'v1' } }), /invalid headers/],
    ['an unknown message type', (r: WireRecord) => ({ ...r, headers: { ...r.headers, event_type: 'user.exploded' } }), /unknown message type user.exploded/],
    ['an unsupported major version', (r: WireRecord) => ({ ...r, headers: { ...r.headers, version: '2.0' } }), /version 2.0 is not supported/],
    ['a value that is not JSON', (r: WireRecord) => ({ ...r, value: '{"user_id":' }), /value is not JSON/],
    ['a payload missing a field', (r: WireRecord) => ({ ...r, value: JSON.stringify({ ...userCreated, email: undefined }) }), /invalid user.created payload/],
    ['a payload with a wrongly typed field', (r: WireRecord) => ({ ...r, value: JSON.stringify({ ...userCreated, status: 'banned' }) }), /invalid user.created payload/],
  ])('rejects a record with %s', (_case, corrupt, error) => {
    const record = corrupt(validRecord());

    expect(() => decodeMessage(record)).toThrow(InvalidMessageError);
    expect(() => decodeMessage(record)).toThrow(error);
  });
});

function withoutHeader(headers: Record<string, string>, name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([key]) => key !== name));
}
