/**
 * Health of one instance, as seed 000 names it. `passing` instances are the only ones a
 * `healthy=true` discovery returns. `warning` is part of the wire contract but not produced yet.
 */
export type HealthStatus = 'passing' | 'warning' | 'critical';

/** Every health status, in the order summaries report them. */
export const healthStatuses: readonly HealthStatus[] = ['passing', 'warning', 'critical'];

/**
 * How many consecutive results it takes to change an instance's health, so one slow answer does
 * not flap it (issue 3). With the defaults (1 and 1) the first failure turns it critical and the
 * first success brings it back, as in seed 000.
 */
export interface HealthThresholds {
  /** Consecutive failed checks before a passing instance turns critical; at least 1. */
  failuresBeforeCritical: number;
  /** Consecutive passed checks before a critical instance passes again; at least 1. */
  successesBeforePassing: number;
}

/** Seed 000's behaviour: one result decides. */
export const defaultHealthThresholds: HealthThresholds = { failuresBeforeCritical: 1, successesBeforePassing: 1 };

/** The health of an instance together with the run of results that leads to the next change. */
export interface CheckRecord {
  status: HealthStatus;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
}

/** A new instance starts passing (seed 000: `Register` sets `HealthPassing`), before any check ran. */
export const initialCheckRecord: CheckRecord = { status: 'passing', consecutiveFailures: 0, consecutiveSuccesses: 0 };

/**
 * Applies one active check result to a record: the health transition of the health-check
 * pattern with thresholds. Pure.
 */
export function applyCheckResult(record: CheckRecord, passed: boolean, thresholds: HealthThresholds): CheckRecord {
  if (passed) {
    const consecutiveSuccesses = record.consecutiveSuccesses + 1;
    const recovers = record.status !== 'passing' && consecutiveSuccesses >= thresholds.successesBeforePassing;
    return { status: recovers ? 'passing' : record.status, consecutiveFailures: 0, consecutiveSuccesses };
  }
  const consecutiveFailures = record.consecutiveFailures + 1;
  const fails = record.status !== 'critical' && consecutiveFailures >= thresholds.failuresBeforeCritical;
  return { status: fails ? 'critical' : record.status, consecutiveFailures, consecutiveSuccesses: 0 };
}
