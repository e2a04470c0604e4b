import type { ServiceHttpClient } from '@msr/discovery';
import { NonRetryableError } from '@msr/saga';
import type { UserDirectory, UserLookup } from '../application/ports.js';

/**
 * {@link UserDirectory} over user-service's HTTP API (seed 002's `GET /users/{id}`), through
 * discovery, load balancing and a per-instance circuit breaker (`ServiceHttpClient`).
 */
export class HttpUserDirectory implements UserDirectory {
  constructor(
    private readonly http: ServiceHttpClient,
    /** The name user-service registers under, e.g. `user-service`. */
    private readonly serviceName: string,
  ) {}

  /**
   * @throws `NoHealthyInstanceError`, `BreakerOpenError`, `CallTimeoutError`, a network error, or
   * an Error for a 5xx or 429 (all transient); `NonRetryableError` for any other answer.
   */
  async lookup(userId: string): Promise<UserLookup> {
    const response = await this.http.request<{ status?: unknown } | undefined>(this.serviceName, { method: 'GET', path: `/users/${encodeURIComponent(userId)}` });
    if (response.status === 404) return { found: false };
    if (response.status === 200) {
      const status = response.body?.status;
      if (typeof status !== 'string') throw new NonRetryableError(`${this.serviceName} answered a user without a status`);
      return { found: true, status };
    }
    if (response.status >= 500 || response.status === 429) throw new Error(`${this.serviceName} answered ${response.status}`);
    throw new NonRetryableError(`${this.serviceName} answered ${response.status} to GET /users/${userId}`);
  }
}
