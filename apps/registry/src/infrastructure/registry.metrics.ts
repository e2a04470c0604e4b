import { Counter, Gauge, type Registry } from 'prom-client';
import type { WatchHub } from '../application/watch-hub.js';
import type { Catalog } from '../domain/catalog.js';
import { healthStatuses } from '../domain/health.js';

/**
 * Registers the registry's Prometheus metrics on `registry`:
 * - `registry_instances{service_name, health}`: instances per service and health, read from the
 *   catalog at each scrape;
 * - `registry_catalog_index`: the catalog's change index;
 * - `registry_instances_removed_total{reason}`: removals by reason (deregistered, lease_expired,
 *   critical_timeout);
 * - `registry_self_preservation_active` (1 while evictions are suspended) and
 *   `registry_evictions_suspended` (instances due for eviction but kept), as of the last sweep;
 * - `registry_watchers` (open watch streams) and `registry_watchers_dropped_total` (slow
 *   watchers cut off).
 *
 * The label is `service_name` because `service` is the process label every metric carries.
 */
export function registerRegistryMetrics(registry: Registry, catalog: Catalog, hub: WatchHub): void {
  new Gauge({
    name: 'registry_instances',
    help: 'Registered service instances by service and health.',
    labelNames: ['service_name', 'health'],
    registers: [registry],
    collect() {
      this.reset();
      for (const summary of catalog.summaries()) {
        for (const health of healthStatuses) this.set({ service_name: summary.name, health }, summary.health[health]);
      }
    },
  });
  new Gauge({
    name: 'registry_catalog_index',
    help: 'Index of the latest catalog change; grows by one per registration, health change or removal.',
    registers: [registry],
    collect() {
      this.set(catalog.index);
    },
  });
  const removed = new Counter({
    name: 'registry_instances_removed_total',
    help: 'Instances removed from the catalog, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  catalog.subscribe((event) => {
    if (event.type === 'removed') removed.inc({ reason: event.reason });
  });
  new Gauge({
    name: 'registry_self_preservation_active',
    help: '1 while self-preservation suspends evictions (too many instances missed heartbeats at once), else 0.',
    registers: [registry],
    collect() {
      this.set(catalog.selfPreservation.active ? 1 : 0);
    },
  });
  new Gauge({
    name: 'registry_evictions_suspended',
    help: 'Instances whose lease lapsed or that stayed critical too long, kept because of self-preservation.',
    registers: [registry],
    collect() {
      this.set(catalog.selfPreservation.suppressedEvictions);
    },
  });
  new Gauge({
    name: 'registry_watchers',
    help: 'Open watch streams (Server-Sent Events).',
    registers: [registry],
    collect() {
      this.set(hub.size);
    },
  });
  const dropped = new Counter({
    name: 'registry_watchers_dropped_total',
    help: 'Watchers dropped because they fell further behind than the per-watcher buffer allows.',
    registers: [registry],
  });
  hub.onDrop(() => dropped.inc());
}
