import { describe, expect, it } from 'vitest';
import { headersToStrings } from './records.js';

describe('headersToStrings', () => {
  it('decodes Buffer and string header values as UTF-8 strings', () => {
    expect(headersToStrings({ event_type: Buffer.from('user.created'), version: '1.0' })).toEqual({ event_type: 'user.created', version: '1.0' });
  });

  it('keeps the first value of a repeated header and drops absent ones', () => {
    expect(headersToStrings({ version: [Buffer.from('1.0'), '2.0'], empty: undefined })).toEqual({ version: '1.0' });
  });

  it('returns no headers for a record without any', () => {
    expect(headersToStrings(undefined)).toEqual({});
  });
});
