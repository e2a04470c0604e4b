import { BulkheadRejectedError } from './errors.js';

/** Gives back a bulkhead slot; calling it again does nothing. */
export type ReleaseSlot = () => void;

/** Hooks a {@link Bulkhead} reports to (metrics); all optional. */
export interface BulkheadObserver {
  /** Called on each refused call. */
  onRejected?: () => void;
}

/**
 * A bound on concurrent calls to one upstream (the bulkhead pattern: one compartment flooding
 * does not sink the ship). Beyond `maxConcurrent` calls in flight, new calls are refused at once,
 * never queued: a queue in front of a slow upstream only turns its slowness into everyone's.
 *
 * @example
 * const bulkhead = breakers.bulkhead('order-service', 100);
 * const products = await bulkhead.run(() => http.request('order-service', { method: 'GET', path: '/products' }));
 */
export class Bulkhead {
  private active = 0;

  /**
   * @param name - the upstream it guards; the `bulkhead` metric label.
   * @param maxConcurrent - calls allowed in flight at once, an integer ≥ 1.
   * @throws {RangeError} when `maxConcurrent` is not an integer ≥ 1.
   */
  constructor(
    readonly name: string,
    readonly maxConcurrent: number,
    private readonly observer: BulkheadObserver = {},
  ) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError(`maxConcurrent must be an integer >= 1, got ${maxConcurrent}`);
  }

  /** Calls holding a slot now. */
  get inFlight(): number {
    return this.active;
  }

  /**
   * Takes a slot if one is free. Use it when the work outlives one promise (a proxied answer whose
   * body is still streaming): release when the work is really done.
   *
   * @returns the function that gives the slot back, or undefined when the bulkhead is full.
   */
  tryAcquire(): ReleaseSlot | undefined {
    if (this.active >= this.maxConcurrent) {
      this.observer.onRejected?.();
      return undefined;
    }
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
    };
  }

  /**
   * Runs `call` in a slot, given back when it settles.
   *
   * @throws {BulkheadRejectedError} at once, without calling, when every slot is taken.
   * @throws whatever `call` rejected with.
   */
  async run<T>(call: () => Promise<T>): Promise<T> {
    const release = this.tryAcquire();
    if (release === undefined) throw new BulkheadRejectedError(this.name, this.maxConcurrent);
    try {
      return await call();
    } finally {
      release();
    }
  }
}
