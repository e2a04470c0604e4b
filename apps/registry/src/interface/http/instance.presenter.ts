import type { WatchMessage } from '../../application/watch-hub.js';
import type { ServiceInfo } from '../../domain/catalog.js';
import type { InstanceSnapshot } from '../../domain/instance.entity.js';

/** One instance on the wire: seed 000's `ServiceInstance` JSON, `last_seen` in RFC 3339. */
export interface InstanceResponse {
  id: string;
  name: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  health: InstanceSnapshot['health'];
  last_seen: string;
}

/** Renders an instance in seed 000's wire shape. */
export function toInstanceResponse(instance: InstanceSnapshot): InstanceResponse {
  return {
    id: instance.id,
    name: instance.name,
    address: instance.address,
    port: instance.port,
    tags: [...instance.tags],
    meta: { ...instance.meta },
    health: instance.health,
    last_seen: new Date(instance.lastSeenAt).toISOString(),
  };
}

/** One service in depth on the wire (`GET /v1/services/{name}`). */
export interface ServiceInfoResponse {
  name: string;
  instances: number;
  health: Record<InstanceSnapshot['health'], number>;
  aggregated_health: InstanceSnapshot['health'];
  versions: string[];
  tags: string[];
  meta: Record<string, string[]>;
  index: number;
}

/** Renders seed 003's service info with snake_case names. */
export function toServiceInfoResponse(info: ServiceInfo): ServiceInfoResponse {
  return {
    name: info.name,
    instances: info.instances,
    health: info.health,
    aggregated_health: info.aggregatedHealth,
    versions: info.versions,
    tags: info.tags,
    meta: info.meta,
    index: info.index,
  };
}

/**
 * A watch message as one Server-Sent Event: `id` is the catalog index (so `Last-Event-ID`
 * resumes), `event` the type (`snapshot`, `added`, `updated`, `removed`), `data` one JSON line.
 */
export function toServerSentEvent(message: WatchMessage): string {
  if (message.kind === 'snapshot') {
    const data = { index: message.index, type: 'snapshot', warming: message.warming, instances: message.instances.map(toInstanceResponse) };
    return `id: ${message.index}\nevent: snapshot\ndata: ${JSON.stringify(data)}\n\n`;
  }
  const { event } = message;
  const data = {
    index: event.index,
    type: event.type,
    service: event.instance.name,
    instance: toInstanceResponse(event.instance),
    ...(event.type === 'removed' ? { reason: event.reason } : {}),
    ...(event.type === 'updated' ? { cause: event.cause } : {}),
  };
  return `id: ${event.index}\nevent: ${event.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Seed 001's view of health: `healthy`, `unhealthy`, or `unknown` (no check or heartbeat yet). */
export type Seed001Status = 'healthy' | 'unhealthy' | 'unknown';

/** One instance in seed 001's `Service` shape, plus its id. */
export interface Seed001ServiceResponse {
  id: string;
  name: string;
  url: string;
  status: Seed001Status;
  /** When the registry last heard from it (check result or heartbeat), RFC 3339; null: never since it registered. */
  last_ping: string | null;
}

/** Renders an instance in seed 001's shape. */
export function toSeed001Service(instance: InstanceSnapshot): Seed001ServiceResponse {
  const heard = [instance.lastCheckedAt, instance.heartbeated ? instance.lastRenewedAt : undefined].filter((t): t is number => t !== undefined);
  const lastPing = heard.length === 0 ? undefined : Math.max(...heard);
  const status: Seed001Status = instance.health !== 'passing' ? 'unhealthy' : lastPing === undefined ? 'unknown' : 'healthy';
  const host = instance.address.includes(':') ? `[${instance.address}]` : instance.address;
  return {
    id: instance.id,
    name: instance.name,
    url: instance.meta['url'] ?? `http://${host}:${instance.port}`,
    status,
    last_ping: lastPing === undefined ? null : new Date(lastPing).toISOString(),
  };
}

/** A service's health in seed 001's terms: healthy if any instance is, else unknown if any is, else unhealthy. */
export function seed001ServiceStatus(instances: readonly Seed001ServiceResponse[]): Seed001Status {
  if (instances.some((instance) => instance.status === 'healthy')) return 'healthy';
  if (instances.some((instance) => instance.status === 'unknown')) return 'unknown';
  return 'unhealthy';
}
