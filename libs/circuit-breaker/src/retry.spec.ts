import { describe, expect, it } from 'vitest';
import { BreakerOpenError, CallTimeoutError } from './errors.js';
import { RetryBudget } from './retry-budget.js';
import { fullJitterDelay, isIdempotentRequest, withRetry, type RetryPolicy } from './retry.js';

const policy: RetryPolicy = { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 50 };
const instant = () => 0;

describe('fullJitterDelay', () => {
  it('is zero at the bottom of the random range', () => {
    expect(fullJitterDelay(1, policy, () => 0)).toBe(0);
  });

  it('stays below an exponentially growing ceiling', () => {
    const top = () => 0.999_999;
    expect(fullJitterDelay(1, policy, top)).toBe(9);
    expect(fullJitterDelay(2, policy, top)).toBe(19);
    expect(fullJitterDelay(3, policy, top)).toBe(39);
  });

  it('never exceeds maxDelayMs however many attempts failed', () => {
    expect(fullJitterDelay(4, policy, () => 0.999_999)).toBe(49);
    expect(fullJitterDelay(60, policy, () => 0.999_999)).toBe(49);
  });

  it('scales uniformly with the random draw', () => {
    expect(fullJitterDelay(2, policy, () => 0.5)).toBe(10);
  });

  it('stays within [0, ceiling) for Math.random', () => {
    for (let i = 0; i < 1_000; i++) {
      const delay = fullJitterDelay(3, policy);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(40);
    }
  });
});

describe('withRetry', () => {
  it('returns the first success without retrying', async () => {
    const attempts: number[] = [];
    await expect(withRetry(async (attempt) => (attempts.push(attempt), 'ok'), policy)).resolves.toBe('ok');
    expect(attempts).toEqual([1]);
  });

  it('retries failures until an attempt succeeds', async () => {
    const attempts: number[] = [];
    const result = await withRetry(
      async (attempt) => {
        attempts.push(attempt);
        if (attempt < 3) throw new Error(`failure ${attempt}`);
        return 'third time lucky';
      },
      policy,
      { random: instant },
    );
    expect(result).toBe('third time lucky');
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('stops after maxAttempts and throws the last error', async () => {
    let calls = 0;
    const error = await withRetry(
      async (attempt) => {
        calls++;
        throw new Error(`failure ${attempt}`);
      },
      policy,
      { random: instant },
    ).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect((error as Error).message).toBe('failure 4');
  });

  it('does not retry an error the caller marks as not retryable', async () => {
    let calls = 0;
    const fatal = new Error('400 bad request');
    await expect(
      withRetry(
        async () => {
          calls++;
          throw fatal;
        },
        policy,
        { random: instant, isRetryable: (error) => error !== fatal },
      ),
    ).rejects.toBe(fatal);
    expect(calls).toBe(1);
  });

  it('does not retry an open breaker by default', async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw new BreakerOpenError('svc');
      }, policy),
    ).rejects.toBeInstanceOf(BreakerOpenError);
    expect(calls).toBe(1);
  });

  it('reports each retry with a jittered delay inside its bounds', async () => {
    const retries: { attempt: number; delayMs: number }[] = [];
    await withRetry(
      async (attempt) => {
        if (attempt < 4) throw new Error('again');
        return 'ok';
      },
      policy,
      { random: () => 0.5, onRetry: ({ attempt, delayMs }) => retries.push({ attempt, delayMs }) },
    );
    expect(retries).toEqual([
      { attempt: 1, delayMs: 5 },
      { attempt: 2, delayMs: 10 },
      { attempt: 3, delayMs: 20 },
    ]);
  });

  it('waits out the backoff between attempts', async () => {
    const times: number[] = [];
    await withRetry(
      async (attempt) => {
        times.push(performance.now());
        if (attempt < 2) throw new Error('again');
      },
      { maxAttempts: 2, baseDelayMs: 60, maxDelayMs: 60 },
      { random: () => 0.999 },
    );
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(55);
  });

  it('stops backing off when its signal aborts', async () => {
    const controller = new AbortController();
    let calls = 0;
    const pending = withRetry(
      async () => {
        calls++;
        throw new Error('again');
      },
      { maxAttempts: 5, baseDelayMs: 60_000, maxDelayMs: 60_000 },
      { random: () => 0.5, signal: controller.signal, onRetry: () => controller.abort() },
    );
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(1);
  });
});

describe('withRetry per-attempt signals and timeouts', () => {
  it('gives each attempt a fresh signal, aborted at attemptTimeoutMs with CallTimeoutError', async () => {
    const signals: Array<AbortSignal | undefined> = [];
    const started = performance.now();
    const result = await withRetry(
      (attempt, signal) => {
        signals.push(signal);
        // The first attempt hangs; only its own timeout can end it.
        return attempt === 1 ? new Promise<string>(() => undefined) : Promise.resolve(`attempt ${attempt}`);
      },
      policy,
      { random: instant, attemptTimeoutMs: 40 },
    );
    expect(result).toBe('attempt 2');
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
    expect(signals).toHaveLength(2);
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    expect(signals[1]).toBeInstanceOf(AbortSignal);
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[0]?.reason).toBeInstanceOf(CallTimeoutError);
    expect(signals[1]?.aborted).toBe(false);
  });

  it('throws CallTimeoutError when every attempt outlives its timeout', async () => {
    const error = await withRetry(() => new Promise(() => undefined), { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 }, { attemptTimeoutMs: 20, name: 'svc' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect(error).toMatchObject({ breakerName: 'svc', timeoutMs: 20 });
  });

  it('aborts the attempt in flight when the caller signal aborts', async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const pending = withRetry(
      (_attempt, signal) =>
        new Promise((_resolve, reject) => {
          seen = signal;
          signal?.addEventListener('abort', () => reject(new Error('aborted')));
        }),
      { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
      { signal: controller.signal },
    );
    controller.abort();
    await expect(pending).rejects.toThrow('aborted');
    expect(seen?.aborted).toBe(true);
  });

  it('gives no signal when neither a caller signal nor attemptTimeoutMs could abort an attempt', async () => {
    const seen: Array<AbortSignal | undefined> = [];
    const result = await withRetry(
      async (attempt, signal) => {
        seen.push(signal);
        if (attempt === 1) throw new Error('transient');
        return 'done';
      },
      policy,
      { random: instant },
    );
    expect(result).toBe('done');
    expect(seen).toEqual([undefined, undefined]);
  });
});

describe('withRetry with a retry budget', () => {
  it('stops retrying when the budget is spent and throws the last error', async () => {
    const budget = new RetryBudget('svc', { ratio: 0, minRetriesPerSecond: 0.1, windowMs: 10_000 });
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(new Error(`failure ${calls}`));
    };
    // 0.1/s over 10 s: one retry in all.
    await expect(withRetry(failing, { ...policy, budget }, { random: instant })).rejects.toThrow('failure 2');
    expect(calls).toBe(2);
    calls = 0;
    await expect(withRetry(failing, { ...policy, budget }, { random: instant })).rejects.toThrow('failure 1');
    expect(calls).toBe(1);
  });

  it('counts each call as a request that earns retries', async () => {
    const budget = new RetryBudget('svc', { ratio: 0.5, minRetriesPerSecond: 0, windowMs: 10_000 });
    for (let i = 0; i < 4; i++) await withRetry(async () => 'ok', { ...policy, budget });
    let calls = 0;
    await withRetry(
      async () => {
        if (++calls < 3) throw new Error('again');
        return 'ok';
      },
      { ...policy, budget },
      { random: instant },
    );
    // 5 requests × 0.5 = 2.5 retries allowed: both retries were made.
    expect(calls).toBe(3);
  });
});

describe('isIdempotentRequest', () => {
  it('treats GET, HEAD, OPTIONS, PUT and DELETE as safe to repeat', () => {
    for (const method of ['GET', 'head', 'OPTIONS', 'PUT', 'DELETE']) expect(isIdempotentRequest(method), method).toBe(true);
  });

  it('never repeats a POST or PATCH without an idempotency key', () => {
    expect(isIdempotentRequest('POST')).toBe(false);
    expect(isIdempotentRequest('PATCH', { 'content-type': 'application/json' })).toBe(false);
  });

  it('repeats a POST that carries an Idempotency-Key', () => {
    expect(isIdempotentRequest('POST', { 'Idempotency-Key': 'k-1' })).toBe(true);
  });
});
