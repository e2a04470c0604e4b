import { setTimeout as delay } from 'node:timers/promises';

/** How long and how often {@link pollUntil} asks. */
export interface PollOptions {
  /** Give up after this many ms. */
  timeoutMs: number;
  /** Pause between two probes, in ms. Default 250. */
  intervalMs?: number;
  /** What is awaited, for the timeout message, e.g. `Kafka at 127.0.0.1:9092`. */
  what: string;
}

/**
 * Calls `probe` until it returns true or the deadline passes: the condition-based wait every tool
 * here uses instead of fixed sleeps. An error thrown by `probe` ends the wait at once (use that for
 * "the process died"; return false for "not ready yet").
 *
 * @throws Error `timed out after <ms> ms waiting for <what>` when the deadline passes.
 */
export async function pollUntil(probe: () => Promise<boolean>, options: PollOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
    await delay(Math.min(options.intervalMs ?? 250, Math.max(0, deadline - Date.now())));
  }
}
