import type { CheckTarget } from '../domain/health-check.value-object.js';

/** The outcome of one active health check. */
export interface ProbeResult {
  passed: boolean;
  /** Why it failed, e.g. `HTTP 503` or `connect ECONNREFUSED 127.0.0.1:3001`. */
  output?: string;
}

/**
 * Port for running one active health check against a target; implemented over the network in
 * infrastructure/network-health.probe.ts. Must resolve (never reject) within about `timeoutMs`.
 */
export interface HealthProbe {
  probe(target: CheckTarget, timeoutMs: number): Promise<ProbeResult>;
}
