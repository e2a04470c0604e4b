/** Why the gateway could not get an answer from an upstream; each maps to one problem status. */
export type GatewayErrorCode =
  /** The registry lists no healthy instance of the service (503). */
  | 'GATEWAY.NO_HEALTHY_INSTANCE'
  /** The registry could not be asked and nothing was cached (503). */
  | 'GATEWAY.DISCOVERY_UNAVAILABLE'
  /** The service's circuit breaker, or every instance's, is open: answered at once, nothing sent (503). */
  | 'GATEWAY.CIRCUIT_OPEN'
  /** The service already has as many requests in flight as its bulkhead allows: answered at once (503). */
  | 'GATEWAY.BULKHEAD_FULL'
  /** The upstream did not answer within the upstream timeout (504). */
  | 'GATEWAY.UPSTREAM_TIMEOUT'
  /** The connection to the upstream was refused, reset or cut (502). */
  | 'GATEWAY.UPSTREAM_UNREACHABLE'
  /** The upstream answered something that is not valid HTTP (502). */
  | 'GATEWAY.BAD_UPSTREAM_RESPONSE';

/**
 * A failure to reach or understand an upstream. The upstream's own error answers (4xx/5xx
 * problems) are not GatewayErrors: they are passed through unchanged.
 */
export class GatewayError extends Error {
  constructor(
    readonly code: GatewayErrorCode,
    /** The upstream service concerned, e.g. `user-service`. */
    readonly service: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.name = 'GatewayError';
  }
}

/**
 * The client went away before the upstream answered; the upstream call was aborted. Not the
 * upstream's fault, so it never counts against its breaker, and there is nobody to answer.
 */
export class ClientGoneError extends Error {
  constructor() {
    super('The client closed the connection before the upstream answered');
    this.name = 'ClientGoneError';
  }
}
