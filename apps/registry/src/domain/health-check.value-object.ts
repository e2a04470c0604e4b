import type { HealthThresholds } from './health.js';

/** Where an active health check looks: an HTTP URL (any 2xx passes) or a TCP endpoint (connect passes). */
export type CheckTarget = { kind: 'http'; url: string } | { kind: 'tcp'; host: string; port: number };

/**
 * An active health check of one instance (seed 000's `HealthCheck`), each with its own interval
 * and timeout in ms.
 */
export interface HealthCheckDefinition {
  readonly id: string;
  readonly name: string;
  readonly target: CheckTarget;
  /** Time between the end of one check and the start of the next, in ms. */
  readonly intervalMs: number;
  /** Time one check may take before it counts as failed, in ms. */
  readonly timeoutMs: number;
  /**
   * This check's own thresholds (Consul's `FailuresBeforeCritical` / `SuccessBeforePassing`);
   * what it leaves out comes from the registry's defaults.
   */
  readonly thresholds?: Partial<HealthThresholds>;
  /**
   * How long the instance may stay critical before it is deregistered, in ms (Consul's
   * `DeregisterCriticalServiceAfter`); absent: the registry's default.
   */
  readonly deregisterCriticalAfterMs?: number;
}

/**
 * Resolves seed 000's `http` field into a URL. Seed 000 gives a path (`/health`) that the
 * registry appends to the instance's address and port; our clients give a full URL. Both work.
 */
export function httpCheckTarget(http: string, address: string, port: number): CheckTarget {
  if (http.startsWith('/')) return { kind: 'http', url: `http://${hostForUrl(address)}:${port}${http}` };
  return { kind: 'http', url: http };
}

/** A TCP check target from `host:port` (IPv6 hosts in brackets: `[::1]:8080`). */
export function tcpCheckTarget(tcp: string): CheckTarget | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(tcp);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  return { kind: 'tcp', host: match[1] ?? match[2] ?? '', port };
}

/** A short text form of a target for logs, e.g. `http://10.0.0.5:3001/health` or `tcp 10.0.0.5:5432`. */
export function describeTarget(target: CheckTarget): string {
  return target.kind === 'http' ? target.url : `tcp ${hostForUrl(target.host)}:${target.port}`;
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
