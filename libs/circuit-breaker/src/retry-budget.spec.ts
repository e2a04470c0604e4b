import { describe, expect, it } from 'vitest';
import { RetryBudget } from './retry-budget.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('RetryBudget', () => {
  it('allows retries up to ratio × requests in the window, then refuses', () => {
    const time = clock();
    const outcomes: string[] = [];
    const budget = new RetryBudget('svc', { ratio: 0.2, minRetriesPerSecond: 0, windowMs: 10_000 }, { onRetry: (o) => outcomes.push(o) }, time.now);
    for (let i = 0; i < 10; i++) budget.recordRequest();
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    expect(outcomes).toEqual(['retried', 'retried', 'budget_exhausted']);
  });

  it('always allows the minimum retries per second, even without traffic', () => {
    const time = clock();
    const budget = new RetryBudget('svc', { ratio: 0, minRetriesPerSecond: 1, windowMs: 2_000 }, {}, time.now);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
  });

  it('forgets requests and retries once they leave the window', () => {
    const time = clock();
    const budget = new RetryBudget('svc', { ratio: 0.5, minRetriesPerSecond: 0, windowMs: 1_000 }, {}, time.now);
    budget.recordRequest();
    budget.recordRequest();
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    time.advance(1_100);
    expect(budget.tryRetry()).toBe(false);
    budget.recordRequest();
    budget.recordRequest();
    expect(budget.tryRetry()).toBe(true);
  });

  it('slides: part of the window ago still counts', () => {
    const time = clock(0);
    const budget = new RetryBudget('svc', { ratio: 1, minRetriesPerSecond: 0, windowMs: 1_000 }, {}, time.now);
    budget.recordRequest();
    time.advance(500);
    expect(budget.tryRetry()).toBe(true);
    time.advance(400);
    expect(budget.tryRetry()).toBe(false);
  });

  it('refuses a policy out of range', () => {
    expect(() => new RetryBudget('svc', { ratio: -1 })).toThrow(/ratio/);
    expect(() => new RetryBudget('svc', { windowMs: 10 })).toThrow(/windowMs/);
  });
});
