/**
 * When to stop evicting (Eureka's self-preservation): if a large share of the leased instances
 * miss their heartbeats at the same moment, it is more likely that the registry was cut off
 * from them than that they all died together, so their leases are left alone until enough
 * heartbeats come back.
 */
export interface SelfPreservationPolicy {
  /**
   * Share of leased instances (0 to 1) that must be missing heartbeats, strictly more than it,
   * before evictions stop. 1 turns self-preservation off.
   */
  threshold: number;
  /** Fewer leased instances than this never trigger it: with two instances, one dying is half of them. */
  minInstances: number;
}

/** The default: more than half of at least three leased instances silent at once. */
export const defaultSelfPreservationPolicy: SelfPreservationPolicy = { threshold: 0.5, minInstances: 3 };

/** Where the catalog stands, as of its last sweep. */
export interface SelfPreservationState {
  /** Whether evictions are suspended. */
  active: boolean;
  /** Since when, in ms since the epoch, while active. */
  since?: number;
  /** Instances holding a lease. */
  leased: number;
  /** Of those, the ones silent for at least half their TTL. */
  missing: number;
  /** Evictions skipped since self-preservation last began. */
  suppressedEvictions: number;
}

/** Pure: whether `missing` of `leased` instances call for self-preservation under `policy`. */
export function shouldPreserve(leased: number, missing: number, policy: SelfPreservationPolicy): boolean {
  return leased >= policy.minInstances && leased > 0 && missing / leased > policy.threshold;
}
