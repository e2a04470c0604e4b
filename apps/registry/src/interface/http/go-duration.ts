const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign, as Go accepts
  'μs': 1e-3, // U+03BC Greek mu, as Go accepts
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const termPattern = /(\d*\.?\d*)([a-zµμ]+)/gy;

/** Thrown by {@link parseGoDuration} for input Go's `time.ParseDuration` would reject. */
export class InvalidDurationError extends Error {
  constructor(readonly input: unknown) {
    super(`invalid duration ${JSON.stringify(input)}: use integer nanoseconds or a Go duration string such as "10s", "500ms" or "1m30s"`);
    this.name = 'InvalidDurationError';
  }
}

/**
 * Reads a duration the way a Go client writes it (seed 000's `time.Duration` fields): an integer
 * count of nanoseconds (what `encoding/json` emits) or a `time.ParseDuration` string such as
 * `"10s"`, `"500ms"`, `"1m30s"`, `"1.5h"`, `"-2s"`.
 *
 * @returns the duration in ms; may be fractional (`"1500us"` is 1.5) or negative (`"-2s"`):
 * callers bound it.
 * @throws {InvalidDurationError} for anything else (`"10"` without a unit, `"10 s"`, `1.5`).
 */
export function parseGoDuration(input: unknown): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input)) throw new InvalidDurationError(input);
    return input / 1e6;
  }
  if (typeof input !== 'string') throw new InvalidDurationError(input);
  let rest = input;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new InvalidDurationError(input);
  let total = 0;
  termPattern.lastIndex = 0;
  let consumed = 0;
  for (let match = termPattern.exec(rest); match !== null && match[0] !== ''; match = termPattern.exec(rest)) {
    const [, amount = '', unit = ''] = match;
    const scale = unitMs[unit];
    if (scale === undefined || amount === '' || amount === '.') throw new InvalidDurationError(input);
    total += Number(amount) * scale;
    consumed = termPattern.lastIndex;
  }
  if (consumed !== rest.length) throw new InvalidDurationError(input);
  return sign * total;
}
