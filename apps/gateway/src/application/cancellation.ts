import { EventEmitter } from 'node:events';

/**
 * The abort of one proxied exchange: aborted when the client goes away (or its body grew too
 * large), and by the deadline of the service breaker or of an instance's breaker; the upstream
 * call is aborted with it. It plays both parts of an `AbortController` (it is its own `signal`,
 * a `CallController` of `@msr/circuit-breaker`) and is an `EventEmitter` with `aborted` and
 * `reason`, which undici takes as a request's `signal`.
 *
 * Why not an `AbortController`: on Node 20 an `AbortSignal` costs microseconds to create and
 * as much again to subscribe to and unsubscribe from (nodejs/performance#44,
 * nodejs/node#55311), once per request on the gateway's hot path, where an `EventEmitter` costs
 * a few dozen nanoseconds.
 */
export class Cancellation extends EventEmitter {
  /** Whether {@link abort} was called. */
  aborted = false;
  /** What {@link abort} was called with; undefined until then. */
  reason: unknown = undefined;

  /** Itself: what a breaker hands to the guarded call, and what goes to undici as `signal`. */
  get signal(): this {
    return this;
  }

  /** Marks it aborted and emits `abort` to the listeners (undici's among them); later calls do nothing. */
  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}
