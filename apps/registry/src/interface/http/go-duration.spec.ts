import { describe, expect, it } from 'vitest';
import { InvalidDurationError, parseGoDuration } from './go-duration.js';

describe('parseGoDuration', () => {
  it('reads integer nanoseconds, the way Go encodes time.Duration in JSON', () => {
    expect(parseGoDuration(10_000_000_000)).toBe(10_000);
    expect(parseGoDuration(5_000_000_000)).toBe(5_000);
    expect(parseGoDuration(1_500_000)).toBe(1.5);
    expect(parseGoDuration(0)).toBe(0);
  });

  it.each([
    ['10s', 10_000],
    ['500ms', 500],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1_500],
    ['.5s', 500],
    ['2h45m', 9_900_000],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['1500μs', 1.5],
    ['2000000ns', 2],
    ['0', 0],
    ['+3s', 3_000],
  ])('reads the Go duration string %s', (input, ms) => {
    expect(parseGoDuration(input)).toBeCloseTo(ms, 9);
  });

  it('keeps the sign of a negative duration so callers can reject it', () => {
    expect(parseGoDuration('-2s')).toBe(-2_000);
    expect(parseGoDuration(-1_000_000)).toBe(-1);
  });

  it.each([['10'], [''], ['s'], ['10 s'], ['10sec'], ['10d'], ['1.2.3s'], ['.s'], ['5s '], ['-']])(
    'rejects the malformed string %j',
    (input) => {
      expect(() => parseGoDuration(input)).toThrow(InvalidDurationError);
    },
  );

  it('rejects non-integer numbers and other types', () => {
    expect(() => parseGoDuration(1.5)).toThrow(InvalidDurationError);
    expect(() => parseGoDuration(Number.MAX_VALUE)).toThrow(InvalidDurationError);
    expect(() => parseGoDuration(null)).toThrow(InvalidDurationError);
    expect(() => parseGoDuration({ seconds: 1 })).toThrow(InvalidDurationError);
  });
});
