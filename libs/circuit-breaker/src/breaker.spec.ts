import { Writable } from 'node:stream';
import { createLogger } from '@msr/service-defaults';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BreakerRegistry, type Breaker, type BreakerState } from './breaker.js';
import { BreakerOpenError, CallTimeoutError } from './errors.js';
import { defaultBreakerPolicy, fromThreshold, validatePolicy, type BreakerPolicy } from './policy.js';

/** A logger whose JSON lines are kept in memory, to check what the breaker logs. */
function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ service: 'test', level: 'debug', destination }), lines };
}

const fastPolicy: Partial<BreakerPolicy> = {
  timeoutMs: 1_000,
  errorThresholdPercentage: 50,
  volumeThreshold: 3,
  resetTimeoutMs: 60_000,
  rollingCountTimeoutMs: 10_000,
};

function registry(policy: Partial<BreakerPolicy> = fastPolicy, metricsRegistry?: Registry) {
  const { logger, lines } = memoryLogger();
  return { breakers: new BreakerRegistry({ logger, metricsRegistry, policy }), lines };
}

/** Resolves with the breaker's next state change; rejects if none comes within `withinMs`. */
function nextStateChange(breaker: Breaker, withinMs = 2_000): Promise<BreakerState> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`${breaker.name} did not change state within ${withinMs} ms`));
    }, withinMs);
    const unsubscribe = breaker.onStateChange((state) => {
      clearTimeout(timer);
      unsubscribe();
      resolve(state);
    });
  });
}

const fail = () => Promise.reject(new Error('upstream down'));
const succeed = () => Promise.resolve('ok');

async function failTimes(breaker: Breaker, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await expect(breaker.fire(fail)).rejects.toThrow('upstream down');
}

describe('BreakerRegistry', () => {
  it('returns the same breaker for the same name and separate ones for different names', () => {
    const { breakers } = registry();
    const a = breakers.get('a');
    expect(breakers.get('a')).toBe(a);
    expect(breakers.get('b')).not.toBe(a);
  });

  it('merges registry policy and per-breaker overrides over the defaults', () => {
    const { breakers } = registry({ timeoutMs: 123 });
    expect(breakers.get('a').policy).toEqual({ ...defaultBreakerPolicy, timeoutMs: 123 });
    expect(breakers.get('b', { resetTimeoutMs: 5 }).policy).toEqual({ ...defaultBreakerPolicy, timeoutMs: 123, resetTimeoutMs: 5 });
  });

  it('refuses a policy out of range', () => {
    expect(() => registry({ errorThresholdPercentage: 150 })).toThrow(RangeError);
    expect(() => registry().breakers.get('a', { timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});

describe('Breaker transitions', () => {
  it('passes results and errors through while closed', async () => {
    const breaker = registry().breakers.get('svc');
    await expect(breaker.fire(succeed)).resolves.toBe('ok');
    await expect(breaker.fire(fail)).rejects.toThrow('upstream down');
    expect(breaker.state).toBe('closed');
  });

  it('stays closed on failures until the volume threshold is reached, then opens', async () => {
    const breaker = registry().breakers.get('svc');
    await failTimes(breaker, 2);
    expect(breaker.state).toBe('closed');
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open');
  });

  it('stays closed while the failure rate is at or below the threshold', async () => {
    const breaker = registry().breakers.get('svc');
    for (let i = 0; i < 3; i++) {
      await breaker.fire(succeed);
      await expect(breaker.fire(fail)).rejects.toThrow();
    }
    expect(breaker.state).toBe('closed');
  });

  it('rejects fast with BreakerOpenError while open, without calling', async () => {
    const breaker = registry().breakers.get('svc');
    await failTimes(breaker, 3);
    let called = false;
    const answer = breaker
      .fire(async () => {
        called = true;
        return 'ok';
      })
      .catch((e: unknown) => e);
    // Fast: settled by the microtasks of this turn, before the event loop gets to anything else (a timer, I/O).
    const nextTurn = new Promise<'next turn'>((resolve) => setImmediate(() => resolve('next turn')));
    expect(await Promise.race([answer.then(() => 'this turn'), nextTurn])).toBe('this turn');
    const error = await answer;
    expect(error).toBeInstanceOf(BreakerOpenError);
    expect((error as BreakerOpenError).breakerName).toBe('svc');
    expect(called).toBe(false);
  });

  it('turns half-open after the reset timeout and closes on a successful trial call', async () => {
    const breaker = registry({ ...fastPolicy, resetTimeoutMs: 50 }).breakers.get('svc');
    await failTimes(breaker, 3);
    expect(breaker.state).toBe('open');
    expect(await nextStateChange(breaker)).toBe('half_open');
    expect(breaker.state).toBe('half_open');
    await expect(breaker.fire(succeed)).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
    await expect(breaker.fire(succeed)).resolves.toBe('ok');
  });

  it('reopens when the half-open trial call fails', async () => {
    const breaker = registry({ ...fastPolicy, resetTimeoutMs: 50 }).breakers.get('svc');
    await failTimes(breaker, 3);
    expect(await nextStateChange(breaker)).toBe('half_open');
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open');
    await expect(breaker.fire(succeed)).rejects.toBeInstanceOf(BreakerOpenError);
    // and it tries again after another reset timeout
    expect(await nextStateChange(breaker)).toBe('half_open');
  });

  it('lets only one trial call through while half-open', async () => {
    const breaker = registry({ ...fastPolicy, resetTimeoutMs: 50 }).breakers.get('svc');
    await failTimes(breaker, 3);
    await nextStateChange(breaker);
    let release: (value: string) => void = () => undefined;
    const trial = breaker.fire(() => new Promise<string>((resolve) => (release = resolve)));
    await expect(breaker.fire(succeed)).rejects.toBeInstanceOf(BreakerOpenError);
    release('ok');
    await expect(trial).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('does not count errors that isFailure rejects, but still throws them', async () => {
    class ClientError extends Error {}
    const breaker = registry().breakers.get('svc', { isFailure: (error) => !(error instanceof ClientError) });
    for (let i = 0; i < 5; i++) {
      await expect(breaker.fire(() => Promise.reject(new ClientError('404')))).rejects.toBeInstanceOf(ClientError);
    }
    expect(breaker.state).toBe('closed');
  });

  it('logs every state change', async () => {
    const { breakers, lines } = registry({ ...fastPolicy, resetTimeoutMs: 50 });
    const breaker = breakers.get('svc');
    await failTimes(breaker, 3);
    await nextStateChange(breaker);
    await breaker.fire(succeed);
    const changes = lines.filter((line) => line['breaker'] === 'svc').map((line) => [line['level'], line['state']]);
    expect(changes).toEqual([
      ['warn', 'open'],
      ['info', 'half_open'],
      ['info', 'closed'],
    ]);
  });
});

describe('Breaker failed results', () => {
  it('counts a resolved value isFailedResult rejects as a failure, yet resolves with it', async () => {
    const breaker = registry().breakers.get('svc', { isFailedResult: (value) => (value as { status: number }).status >= 500 });
    for (let i = 0; i < 2; i++) await expect(breaker.fire(async () => ({ status: 503 }))).resolves.toEqual({ status: 503 });
    expect(breaker.state).toBe('closed');
    await expect(breaker.fire(async () => ({ status: 500 }))).resolves.toEqual({ status: 500 });
    expect(breaker.state).toBe('open');
    await expect(breaker.fire(async () => ({ status: 200 }))).rejects.toBeInstanceOf(BreakerOpenError);
  });

  it('counts values isFailedResult accepts as successes', async () => {
    const breaker = registry().breakers.get('svc', { isFailedResult: () => false });
    for (let i = 0; i < 5; i++) await breaker.fire(async () => ({ status: 500 }));
    expect(breaker.state).toBe('closed');
  });
});

describe('Breaker timeouts', () => {
  it('rejects with CallTimeoutError at timeoutMs and aborts the call signal', async () => {
    const breaker = registry({ ...fastPolicy, timeoutMs: 50 }).breakers.get('svc');
    let seen: AbortSignal | undefined;
    const started = performance.now();
    const error = await breaker
      .fire(
        (signal) =>
          new Promise((_resolve, reject) => {
            seen = signal;
            signal.addEventListener('abort', () => reject(new Error('aborted by signal')));
          }),
      )
      .catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect((error as CallTimeoutError).timeoutMs).toBe(50);
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(500);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(error);
  });

  it('times out even a call that ignores its signal', async () => {
    const breaker = registry({ ...fastPolicy, timeoutMs: 30 }).breakers.get('svc');
    await expect(breaker.fire(() => new Promise(() => undefined))).rejects.toBeInstanceOf(CallTimeoutError);
  });

  it('gives a later call a fresh signal that is not aborted', async () => {
    const breaker = registry({ ...fastPolicy, timeoutMs: 30 }).breakers.get('svc');
    const signals: AbortSignal[] = [];
    await expect(breaker.fire((signal) => (signals.push(signal), new Promise(() => undefined)))).rejects.toBeInstanceOf(CallTimeoutError);
    await expect(breaker.fire(async (signal) => (signals.push(signal), signal.aborted))).resolves.toBe(false);
    expect(signals[0]).not.toBe(signals[1]);
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[1]?.aborted).toBe(false);
  });

  it('aborts the call signal when the caller\'s signal aborts, with its reason, and lets go of that signal once settled', async () => {
    const breaker = registry({ ...fastPolicy, timeoutMs: 1_000 }).breakers.get('svc', { isFailure: () => false });
    const client = new AbortController();
    let seen: AbortSignal | undefined;
    const pending = breaker.fire(
      (signal) =>
        new Promise((_resolve, reject) => {
          seen = signal;
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
      { signal: client.signal },
    );
    client.abort(new Error('client gone'));
    await expect(pending).rejects.toThrow('client gone');
    expect(seen?.aborted).toBe(true);

    const later = new AbortController();
    let settledSignal: AbortSignal | undefined;
    await expect(breaker.fire(async (signal) => ((settledSignal = signal), 'ok'), { signal: later.signal })).resolves.toBe('ok');
    later.abort(new Error('after the call'));
    expect(settledSignal?.aborted).toBe(false);

    const already = new AbortController();
    already.abort(new Error('gone before'));
    await expect(breaker.fire(async (signal) => signal.aborted, { signal: already.signal })).resolves.toBe(true);
  });

  it('aborts a controller the caller owns at the timeout instead of a fresh one', async () => {
    const breaker = registry({ ...fastPolicy, timeoutMs: 30 }).breakers.get('svc');
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const error = await breaker.fire((signal) => ((seen = signal), new Promise(() => undefined)), { controller }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect(seen).toBe(controller.signal);
    expect(controller.signal.reason).toBe(error);
  });

  it('takes a stand-in controller (any signal type) and aborts it at the timeout', async () => {
    const breaker = registry({ ...fastPolicy, timeoutMs: 30 }).breakers.get('svc');
    /** The shape of the gateway's exchange cancellation: its own signal, aborted once with a reason. */
    class StandIn {
      reasons: unknown[] = [];
      get signal(): StandIn {
        return this;
      }
      abort(reason?: unknown): void {
        this.reasons.push(reason);
      }
    }
    const controller = new StandIn();
    let seen: StandIn | undefined;
    const error = await breaker.fire((signal: StandIn) => ((seen = signal), new Promise(() => undefined)), { controller }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect(seen).toBe(controller);
    expect(controller.reasons).toEqual([error]);
  });

  it('counts timeouts as failures even when isFailure says otherwise', async () => {
    const breaker = registry({ ...fastPolicy, timeoutMs: 20 }).breakers.get('svc', { isFailure: () => false });
    for (let i = 0; i < 3; i++) await expect(breaker.fire(() => new Promise(() => undefined))).rejects.toBeInstanceOf(CallTimeoutError);
    expect(breaker.state).toBe('open');
  });
});

describe('Breaker metrics', () => {
  it('exports the state gauge and call outcomes per breaker', async () => {
    const metricsRegistry = new Registry();
    const breaker = registry({ ...fastPolicy, timeoutMs: 20 }, metricsRegistry).breakers.get('svc');
    const state = async () => (await metricsRegistry.getSingleMetric('circuit_breaker_state')?.get())?.values;
    expect(await state()).toEqual([{ labels: { breaker: 'svc' }, value: 0 }]);

    await breaker.fire(succeed);
    await breaker.fire(succeed);
    await failTimes(breaker, 2);
    expect(await state()).toEqual([{ labels: { breaker: 'svc' }, value: 0 }]);
    await expect(breaker.fire(() => new Promise(() => undefined))).rejects.toBeInstanceOf(CallTimeoutError);
    await expect(breaker.fire(succeed)).rejects.toBeInstanceOf(BreakerOpenError);

    expect(await state()).toEqual([{ labels: { breaker: 'svc' }, value: 2 }]);
    const calls = (await metricsRegistry.getSingleMetric('circuit_breaker_calls_total')?.get())?.values ?? [];
    const byOutcome = Object.fromEntries(calls.map((value) => [value.labels['outcome'], value.value]));
    expect(byOutcome).toEqual({ success: 2, failure: 2, timeout: 1, rejected: 1 });
  });

  it('exports bulkhead occupancy and rejections, and retries by outcome', async () => {
    const metricsRegistry = new Registry();
    const { breakers } = registry(fastPolicy, metricsRegistry);
    const bulkhead = breakers.bulkhead('svc', 1);
    expect(breakers.bulkhead('svc', 5)).toBe(bulkhead);
    const release = bulkhead.tryAcquire();
    expect(bulkhead.tryAcquire()).toBeUndefined();
    const values = async (name: string) => (await metricsRegistry.getSingleMetric(name)?.get())?.values;
    expect(await values('bulkhead_in_flight')).toEqual([{ labels: { bulkhead: 'svc' }, value: 1 }]);
    expect(await values('bulkhead_rejections_total')).toEqual([{ labels: { bulkhead: 'svc' }, value: 1 }]);
    release?.();
    expect(await values('bulkhead_in_flight')).toEqual([{ labels: { bulkhead: 'svc' }, value: 0 }]);

    const budget = breakers.retryBudget('svc', { ratio: 0, minRetriesPerSecond: 0.1, windowMs: 10_000 });
    expect(breakers.retryBudget('svc')).toBe(budget);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    const retries = (await values('retries_total')) ?? [];
    expect(Object.fromEntries(retries.map((value) => [value.labels['outcome'], value.value]))).toEqual({ retried: 1, budget_exhausted: 1 });
  });

  it('lets two breaker registries share one metrics registry', () => {
    const metricsRegistry = new Registry();
    registry(fastPolicy, metricsRegistry).breakers.get('a');
    expect(() => registry(fastPolicy, metricsRegistry).breakers.get('b')).not.toThrow();
    registry(fastPolicy, metricsRegistry).breakers.bulkhead('a', 1);
    expect(() => registry(fastPolicy, metricsRegistry).breakers.bulkhead('b', 1)).not.toThrow();
  });
});

describe('fromThreshold (seed 001 NewCircuitBreaker(threshold, resetTimeout))', () => {
  it('opens on the third failure in a row with a threshold of 3', async () => {
    const breaker = registry(fromThreshold(3, 60_000)).breakers.get('svc');
    await failTimes(breaker, 2);
    expect(breaker.state).toBe('closed');
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open');
  });

  it('never opens before `threshold` calls have failed', async () => {
    const breaker = registry(fromThreshold(3, 60_000)).breakers.get('svc');
    await breaker.fire(succeed);
    await failTimes(breaker, 2);
    expect(breaker.state).toBe('closed');
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open');
  });

  it('opens on the first failure with a threshold of 1', async () => {
    const breaker = registry(fromThreshold(1, 60_000)).breakers.get('svc');
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open');
  });

  it('keeps the reset timeout and refuses a threshold below 1', () => {
    expect(fromThreshold(3, 30_000).resetTimeoutMs).toBe(30_000);
    expect(() => fromThreshold(0, 30_000)).toThrow(RangeError);
    expect(() => validatePolicy({ ...defaultBreakerPolicy, volumeThreshold: 1.5 })).toThrow(/volumeThreshold/);
  });
});
