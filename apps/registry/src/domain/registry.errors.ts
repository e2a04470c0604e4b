/** Raised when an operation names an instance id the catalog does not hold. */
export class InstanceNotFoundError extends Error {
  readonly code = 'INSTANCE.NOT_FOUND';

  constructor(readonly instanceId: string) {
    super(`No service instance with id ${instanceId}`);
    this.name = 'InstanceNotFoundError';
  }
}

/** Raised when a query names a service that has no instance in the catalog. */
export class ServiceNotFoundError extends Error {
  readonly code = 'SERVICE.NOT_FOUND';

  constructor(readonly serviceName: string) {
    super(`No service named ${serviceName} is registered`);
    this.name = 'ServiceNotFoundError';
  }
}

/**
 * Raised when a new instance would take a service past the catalog's maximum number of instances
 * per service (seed 003's `MaxInstancesPerService`); re-registering an existing id is always allowed.
 */
export class InstanceLimitError extends Error {
  readonly code = 'SERVICE.INSTANCE_LIMIT';

  constructor(
    readonly serviceName: string,
    readonly limit: number,
  ) {
    super(`${serviceName} already has the maximum of ${limit} instances`);
    this.name = 'InstanceLimitError';
  }
}

/** Every error the registry's domain raises; `mapError` in app.ts switches over their codes. */
export type RegistryDomainError = InstanceNotFoundError | ServiceNotFoundError | InstanceLimitError;

/** Narrows an unknown error to a registry domain error. */
export function isRegistryDomainError(error: unknown): error is RegistryDomainError {
  return error instanceof InstanceNotFoundError || error instanceof ServiceNotFoundError || error instanceof InstanceLimitError;
}
