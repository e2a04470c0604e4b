import { describe, expect, it } from 'vitest';
import { commandMessageId, uuidV5 } from './command-id.js';

describe('uuidV5', () => {
  it('matches the RFC 9562 test vector for www.example.com in the DNS namespace', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });
});

describe('commandMessageId', () => {
  const sagaId = '5b0c7f0e-5d2b-4a43-9d0e-8c8f6a1b2c3d';

  it('gives the same id for the same saga, step and direction', () => {
    expect(commandMessageId(sagaId, 'authorize-payment', 'forward')).toBe(commandMessageId(sagaId, 'authorize-payment', 'forward'));
  });

  it('gives different ids for another direction, step or saga', () => {
    const ids = new Set([
      commandMessageId(sagaId, 'authorize-payment', 'forward'),
      commandMessageId(sagaId, 'authorize-payment', 'compensate'),
      commandMessageId(sagaId, 'reserve-inventory', 'forward'),
      commandMessageId('0e9a2f6b-1c1d-4b8e-8f52-2d4b6c7a9e10', 'authorize-payment', 'forward'),
    ]);
    expect(ids.size).toBe(4);
  });

  it('gives an operator-retried command (a new generation) a new id, and generation 0 the original one', () => {
    expect(commandMessageId(sagaId, 'authorize-payment', 'compensate', 0)).toBe(commandMessageId(sagaId, 'authorize-payment', 'compensate'));
    expect(commandMessageId(sagaId, 'authorize-payment', 'compensate', 1)).not.toBe(commandMessageId(sagaId, 'authorize-payment', 'compensate'));
    expect(commandMessageId(sagaId, 'authorize-payment', 'compensate', 2)).not.toBe(commandMessageId(sagaId, 'authorize-payment', 'compensate', 1));
  });

  it('is a version-5 RFC 9562 UUID', () => {
    expect(commandMessageId(sagaId, 'x', 'forward')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
