/**
 * The source of "now" for the catalog, in ms since the Unix epoch. Injected so that leases,
 * health transitions and evictions are tested by moving a fake clock instead of waiting.
 */
export interface Clock {
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };
