import { describe, expect, it } from 'vitest';
import { applyCheckResult, initialCheckRecord, type CheckRecord, type HealthThresholds } from './health.js';

function run(results: boolean[], thresholds: HealthThresholds, start: CheckRecord = initialCheckRecord): CheckRecord[] {
  const records: CheckRecord[] = [];
  let record = start;
  for (const passed of results) {
    record = applyCheckResult(record, passed, thresholds);
    records.push(record);
  }
  return records;
}

describe('applyCheckResult', () => {
  it('turns critical on the first failure and passes again on the first success by default (seed 000)', () => {
    const statuses = run([false, true], { failuresBeforeCritical: 1, successesBeforePassing: 1 }).map((r) => r.status);
    expect(statuses).toEqual(['critical', 'passing']);
  });

  it('stays passing until the failure threshold is reached', () => {
    const statuses = run([false, false, false], { failuresBeforeCritical: 3, successesBeforePassing: 1 }).map((r) => r.status);
    expect(statuses).toEqual(['passing', 'passing', 'critical']);
  });

  it('restarts the failure count after a success, so isolated failures never flap the instance', () => {
    const statuses = run([false, true, false, true, false], { failuresBeforeCritical: 2, successesBeforePassing: 1 }).map(
      (r) => r.status,
    );
    expect(statuses).toEqual(['passing', 'passing', 'passing', 'passing', 'passing']);
  });

  it('needs the success threshold in a row before a critical instance passes again', () => {
    const thresholds = { failuresBeforeCritical: 1, successesBeforePassing: 2 };
    const statuses = run([false, true, false, true, true], thresholds).map((r) => r.status);
    expect(statuses).toEqual(['critical', 'critical', 'critical', 'critical', 'passing']);
  });

  it('counts consecutive results', () => {
    const last = run([true, false, false], { failuresBeforeCritical: 5, successesBeforePassing: 1 }).at(-1);
    expect(last).toEqual({ status: 'passing', consecutiveFailures: 2, consecutiveSuccesses: 0 });
  });
});
