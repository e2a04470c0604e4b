/**
 * Thrown when a service has no instance to call: none is registered and passing, or the
 * registry could not be reached before anything was cached (then `cause` says why). A gateway
 * answers it with 503.
 */
export class NoHealthyInstanceError extends Error {
  /** Stable code for error mappers. */
  readonly code = 'DISCOVERY.NO_HEALTHY_INSTANCE';

  constructor(
    /** The service that has no healthy instance, e.g. `user-service`. */
    readonly serviceName: string,
    options?: { cause?: unknown },
  ) {
    super(`No healthy instance of ${serviceName}`, options);
    this.name = 'NoHealthyInstanceError';
  }
}

/**
 * Thrown by {@link RegistryClient} when the registry could not be reached or refused a request.
 * `status` is the HTTP status when the registry answered (e.g. 400 with `detail` from its
 * problem body), undefined when it could not be reached (see `cause`).
 */
export class RegistryError extends Error {
  /** Stable code for error mappers. */
  readonly code = 'DISCOVERY.REGISTRY_ERROR';

  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RegistryError';
  }
}
