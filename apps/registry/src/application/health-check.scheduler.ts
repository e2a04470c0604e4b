import type { Logger } from 'pino';
import type { Catalog, CatalogEvent } from '../domain/catalog.js';
import type { InstanceSnapshot } from '../domain/instance.entity.js';
import type { HealthProbe } from './health-probe.port.js';

interface ScheduledCheck {
  generation: number;
  timer: NodeJS.Timeout | undefined;
  inFlight: Promise<void> | undefined;
}

/**
 * Runs each instance's active health check (seed 000's health checker) at the check's own
 * interval and feeds the results to the catalog. It follows the catalog's events: a registration
 * with a check starts its loop, a re-registration restarts it with the new definition, a removal
 * stops it. As in seed 000, a new instance counts as passing until its first check, one interval
 * after registration (a Go seed service registers before it listens). Checks of one instance
 * never overlap: the next one is scheduled `intervalMs` after the previous one finished.
 */
export class HealthCheckScheduler {
  private readonly scheduled = new Map<string, ScheduledCheck>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly catalog: Catalog,
    private readonly probe: HealthProbe,
    private readonly logger: Logger,
  ) {}

  /** Starts checking every instance in the catalog now and every one registered later. */
  start(): void {
    if (this.unsubscribe !== undefined) return;
    this.unsubscribe = this.catalog.subscribe((event) => this.onCatalogEvent(event));
    for (const instance of this.catalog.all()) this.schedule(instance);
  }

  /** Stops every loop and waits for checks in flight to finish. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    const inFlight = [...this.scheduled.values()].map((check) => check.inFlight);
    for (const id of [...this.scheduled.keys()]) this.cancel(id);
    await Promise.all(inFlight);
  }

  /** How many instances currently have a check loop. */
  get size(): number {
    return this.scheduled.size;
  }

  private onCatalogEvent(event: CatalogEvent): void {
    if (event.type === 'removed') this.cancel(event.instance.id);
    else if (event.type === 'added' || event.cause === 're-registered') this.schedule(event.instance);
  }

  private schedule(instance: InstanceSnapshot): void {
    this.cancel(instance.id);
    if (instance.check === undefined) return;
    const entry: ScheduledCheck = { generation: instance.generation, timer: undefined, inFlight: undefined };
    this.scheduled.set(instance.id, entry);
    entry.timer = setTimeout(() => this.runCheck(instance, entry), instance.check.intervalMs);
  }

  private runCheck(instance: InstanceSnapshot, entry: ScheduledCheck): void {
    const check = instance.check;
    if (check === undefined || this.scheduled.get(instance.id) !== entry) return;
    entry.timer = undefined;
    entry.inFlight = this.probe
      .probe(check.target, check.timeoutMs)
      .catch((error: unknown) => ({ passed: false, output: error instanceof Error ? error.message : String(error) }))
      .then((result) => {
        entry.inFlight = undefined;
        if (this.scheduled.get(instance.id) !== entry) return;
        if (!result.passed) this.logger.debug({ instance_id: instance.id, output: result.output }, 'health check failed');
        this.catalog.recordCheckResult(instance.id, entry.generation, result.passed, result.output);
        // Recording may have removed or replaced the instance (its events cancel this loop).
        if (this.scheduled.get(instance.id) === entry) entry.timer = setTimeout(() => this.runCheck(instance, entry), check.intervalMs);
      });
  }

  private cancel(id: string): void {
    const entry = this.scheduled.get(id);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    this.scheduled.delete(id);
  }
}
