/**
 * Sums the test counts of every Vitest run in `npm test`, so the run can close with one plain
 * `N passed, N failed` line however many projects it ran.
 */
export class TestTally {
  passed = 0;
  failed = 0;
  skipped = 0;

  /** Adds the counts of a Vitest summary line such as `Tests  1 failed | 5 passed (6)`; ignores other lines. */
  add(line: string): void {
    // eslint-disable-next-line no-control-regex -- strips terminal colour codes
    const plain = line.replace(/\x1b\[[0-9;]*m/g, '');
    if (!/^\s*Tests\s+\d/.test(plain)) return;
    for (const [, count, kind] of plain.matchAll(/(\d+) (passed|failed|skipped)/g)) {
      this[kind as 'passed' | 'failed' | 'skipped'] += Number(count);
    }
  }

  /** `575 passed, 0 failed` (`, 2 skipped` when any were). */
  summary(): string {
    return `${this.passed} passed, ${this.failed} failed${this.skipped > 0 ? `, ${this.skipped} skipped` : ''}`;
  }
}
