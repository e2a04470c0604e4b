import { z } from 'zod';

/** Health of an instance as the registry reports it (seed 000). */
export type InstanceHealth = 'passing' | 'warning' | 'critical';

/**
 * One registered instance of a service, in the registry's wire shape (seed 000's
 * `ServiceInstance`). `last_seen` is an RFC 3339 time.
 */
export interface ServiceInstance {
  id: string;
  name: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  health: InstanceHealth;
  last_seen: string;
}

/** Validates one instance from the registry (Go's nil slices and maps arrive as null). */
export const serviceInstanceSchema = z.object({
  id: z.string(),
  name: z.string(),
  address: z.string(),
  port: z.number().int(),
  tags: z.array(z.string()).nullish().transform((tags) => tags ?? []),
  meta: z.record(z.string(), z.string()).nullish().transform((meta) => meta ?? {}),
  health: z.enum(['passing', 'warning', 'critical']),
  last_seen: z.string(),
});

/** Validates a discover answer, so a registry that answers garbage is an error, not a crash later. */
export const serviceInstanceListSchema = z.array(serviceInstanceSchema);

/** The base URL of an instance, e.g. `http://10.0.0.5:3001` (IPv6 addresses in brackets). */
export function instanceBaseUrl(instance: Pick<ServiceInstance, 'address' | 'port'>): string {
  const host = instance.address.includes(':') ? `[${instance.address}]` : instance.address;
  return `http://${host}:${instance.port}`;
}

type InstanceAddress = Pick<ServiceInstance, 'name' | 'address' | 'port'>;

/** Names already built, by instance object: one discovered list is asked for its names several times per proxied request. */
const breakerNames = new WeakMap<InstanceAddress, { name: string; address: string; port: number; breakerName: string }>();

/**
 * The per-instance breaker name, `<service>@<address>:<port>`, e.g. `user-service@10.0.0.5:3001`,
 * also the key of an instance in outlier detection. Built once per instance object (and again
 * should its fields change): a fresh concatenated string would be flattened and hashed anew on
 * every map lookup of the proxy's hot path.
 */
export function breakerNameFor(instance: InstanceAddress): string {
  const known = breakerNames.get(instance);
  if (known !== undefined && known.name === instance.name && known.address === instance.address && known.port === instance.port) return known.breakerName;
  const breakerName = `${instance.name}@${instance.address}:${instance.port}`;
  breakerNames.set(instance, { name: instance.name, address: instance.address, port: instance.port, breakerName });
  return breakerName;
}
