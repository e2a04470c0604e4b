import type { Logger } from 'pino';
import type { Catalog } from '../domain/catalog.js';

/**
 * Calls {@link Catalog.sweep} every `intervalMs`, removing instances whose lease lapsed (seed
 * 004's ephemeral registration) or that stayed critical too long. The catalog's events report
 * what was removed; this loop reports when self-preservation begins and ends, since nothing is
 * removed meanwhile.
 */
export class CatalogSweeper {
  private timer: NodeJS.Timeout | undefined;
  private preserving = false;

  constructor(
    private readonly catalog: Catalog,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  /** Starts sweeping; a second call does nothing. */
  start(): void {
    this.timer ??= setInterval(() => this.sweep(), this.intervalMs);
  }

  /** Stops sweeping. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One sweep, logging self-preservation transitions. */
  sweep(): void {
    this.catalog.sweep();
    const state = this.catalog.selfPreservation;
    if (state.active === this.preserving) return;
    this.preserving = state.active;
    const fields = { leased: state.leased, missing_heartbeats: state.missing, evictions_suspended: state.suppressedEvictions };
    if (state.active) {
      this.logger.warn(fields, 'self-preservation on: too many instances missed their heartbeats at once, so the registry is more likely cut off than they are dead; evictions suspended');
    } else {
      this.logger.info(fields, 'self-preservation off: heartbeats are back, evictions resume');
    }
  }
}
