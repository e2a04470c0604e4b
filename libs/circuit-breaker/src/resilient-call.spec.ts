import { createLogger } from '@msr/service-defaults';
import { describe, expect, it } from 'vitest';
import { BreakerRegistry } from './breaker.js';
import { BreakerOpenError, BulkheadRejectedError, CallTimeoutError } from './errors.js';
import { callResiliently, withFallback } from './resilient-call.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const retry = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

function breakers() {
  return new BreakerRegistry({ logger, policy: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 60_000, timeoutMs: 1_000 } });
}

describe('callResiliently', () => {
  it('retries inside the service breaker, which sees one outcome per call', async () => {
    const registry = breakers();
    const breaker = registry.get('svc');
    let calls = 0;
    const result = await callResiliently(
      async (attempt) => {
        calls++;
        if (attempt < 3) throw new Error('transient');
        return 'ok';
      },
      { breaker, retry },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    // Two failed attempts, but one successful outcome: the service breaker stays closed.
    expect(breaker.state).toBe('closed');
  });

  it('opens the service breaker on outcomes that failed after retries, then refuses without calling', async () => {
    const breaker = breakers().get('svc');
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error('down');
    };
    for (let i = 0; i < 2; i++) await expect(callResiliently(failing, { breaker, retry })).rejects.toThrow('down');
    expect(calls).toBe(6);
    expect(breaker.state).toBe('open');
    await expect(callResiliently(failing, { breaker, retry })).rejects.toBeInstanceOf(BreakerOpenError);
    expect(calls).toBe(6);
  });

  it('aborts the attempt in flight when the service breaker times out', async () => {
    const breaker = new BreakerRegistry({ logger, policy: { timeoutMs: 30 } }).get('svc');
    let seen: AbortSignal | undefined;
    const error = await callResiliently(
      (_attempt, signal) => {
        seen = signal;
        return new Promise(() => undefined);
      },
      { breaker, retry },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect(seen?.aborted).toBe(true);
  });

  it('refuses beyond the bulkhead bound without calling', async () => {
    const bulkhead = breakers().bulkhead('svc', 1);
    let release: () => void = () => undefined;
    const first = callResiliently(() => new Promise<void>((resolve) => (release = resolve)), { bulkhead });
    let called = false;
    await expect(callResiliently(async () => (called = true), { bulkhead })).rejects.toBeInstanceOf(BulkheadRejectedError);
    expect(called).toBe(false);
    release();
    await first;
  });

  it('answers the fallback with the final error when everything failed, open breaker included', async () => {
    const registry = breakers();
    const breaker = registry.get('svc');
    const seen: unknown[] = [];
    const fallback = (error: unknown) => {
      seen.push(error);
      return 'cached';
    };
    for (let i = 0; i < 3; i++) {
      await expect(callResiliently(() => Promise.reject(new Error('down')), { breaker, retry, fallback })).resolves.toBe('cached');
    }
    expect((seen[0] as Error).message).toBe('down');
    expect(seen[2]).toBeInstanceOf(BreakerOpenError);
  });

  it('makes one plain call when given no layers, with no signal as nothing can abort it', async () => {
    await expect(callResiliently(async (attempt, signal) => `${attempt} ${String(signal)}`, {})).resolves.toBe('1 undefined');
  });
});

describe('withFallback', () => {
  it('passes a success through and replaces a failure', async () => {
    await expect(withFallback(async () => 'live', () => 'fallback')).resolves.toBe('live');
    await expect(withFallback(() => Promise.reject(new Error('x')), (error) => `fallback for ${(error as Error).message}`)).resolves.toBe('fallback for x');
  });

  it('throws what the fallback throws', async () => {
    await expect(
      withFallback(
        () => Promise.reject(new Error('x')),
        () => {
          throw new Error('no fallback either');
        },
      ),
    ).rejects.toThrow('no fallback either');
  });
});
