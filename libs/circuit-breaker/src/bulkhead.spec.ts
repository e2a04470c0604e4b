import { describe, expect, it } from 'vitest';
import { Bulkhead } from './bulkhead.js';
import { BulkheadRejectedError } from './errors.js';

/** A call that stays in flight until released. */
function pendingCall() {
  let finish: (value: string) => void = () => undefined;
  const promise = new Promise<string>((resolve) => (finish = resolve));
  return { call: () => promise, finish };
}

describe('Bulkhead', () => {
  it('runs calls up to its bound concurrently', async () => {
    const bulkhead = new Bulkhead('svc', 2);
    const a = pendingCall();
    const b = pendingCall();
    const running = [bulkhead.run(a.call), bulkhead.run(b.call)];
    expect(bulkhead.inFlight).toBe(2);
    a.finish('a');
    b.finish('b');
    await expect(Promise.all(running)).resolves.toEqual(['a', 'b']);
    expect(bulkhead.inFlight).toBe(0);
  });

  it('rejects a call beyond the bound at once, without calling it', async () => {
    const rejected: number[] = [];
    const bulkhead = new Bulkhead('svc', 1, { onRejected: () => rejected.push(1) });
    const first = pendingCall();
    const running = bulkhead.run(first.call);
    let called = false;
    const answer = bulkhead
      .run(async () => {
        called = true;
        return 'x';
      })
      .catch((e: unknown) => e);
    // Fast: settled by the microtasks of this turn, before the event loop gets to anything else (a timer, I/O).
    const nextTurn = new Promise<'next turn'>((resolve) => setImmediate(() => resolve('next turn')));
    expect(await Promise.race([answer.then(() => 'this turn'), nextTurn])).toBe('this turn');
    const error = await answer;
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    expect(error).toMatchObject({ bulkheadName: 'svc', maxConcurrent: 1, code: 'BULKHEAD.FULL' });
    expect(called).toBe(false);
    expect(rejected).toHaveLength(1);
    first.finish('done');
    await running;
  });

  it('frees the slot when a call fails', async () => {
    const bulkhead = new Bulkhead('svc', 1);
    await expect(bulkhead.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(bulkhead.run(async () => 'ok')).resolves.toBe('ok');
  });

  it('hands out slots that are given back once however often released', () => {
    const bulkhead = new Bulkhead('svc', 2);
    const release = bulkhead.tryAcquire();
    expect(release).toBeDefined();
    expect(bulkhead.tryAcquire()).toBeDefined();
    expect(bulkhead.tryAcquire()).toBeUndefined();
    release?.();
    release?.();
    expect(bulkhead.inFlight).toBe(1);
  });

  it('refuses a bound below 1', () => {
    expect(() => new Bulkhead('svc', 0)).toThrow(RangeError);
    expect(() => new Bulkhead('svc', 1.5)).toThrow(/maxConcurrent/);
  });
});
