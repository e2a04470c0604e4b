import type { Logger } from 'pino';

/** One step of a graceful shutdown, e.g. `deregister` or `close postgres pool`. */
export interface ShutdownStep {
  name: string;
  run: () => Promise<void> | void;
}

/**
 * Graceful shutdown for one process. Steps run one after another in the order they were added,
 * so `main.ts` states the order explicitly: stop being ready, deregister, stop accepting work,
 * finish in-flight work, close clients and pools. A failing step is logged and the next one
 * still runs. On SIGTERM or SIGINT the process exits 0 when every step finished, 1 if the
 * timeout (ms) ran out first.
 */
export class Lifecycle {
  private readonly steps: ShutdownStep[] = [];
  private shutdown: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {}

  /** Adds a step to run at shutdown, after the ones already added. */
  onShutdown(name: string, run: ShutdownStep['run']): this {
    this.steps.push({ name, run });
    return this;
  }

  /** Runs the shutdown steps once; later calls return the same promise. */
  stop(): Promise<void> {
    this.shutdown ??= this.runSteps();
    return this.shutdown;
  }

  /** Calls {@link stop} on SIGTERM or SIGINT, then exits. */
  exitOnSignals(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      this.logger.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        this.logger.error({ timeout_ms: this.timeoutMs }, 'graceful shutdown timed out');
        this.exit(1);
      }, this.timeoutMs);
      timer.unref();
      void this.stop().then(() => {
        this.logger.info('shutdown complete');
        this.exit(0);
      });
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  /** Exits once buffered log lines are written (at most 1 s later). */
  private exit(code: number): void {
    setTimeout(() => process.exit(code), 1_000).unref();
    this.logger.flush(() => process.exit(code));
  }

  private async runSteps(): Promise<void> {
    for (const step of this.steps) {
      try {
        await step.run();
        this.logger.debug({ step: step.name }, 'shutdown step done');
      } catch (error) {
        this.logger.error({ err: error, step: step.name }, 'shutdown step failed');
      }
    }
  }
}

/**
 * Runs an app's `main`; a start-up failure (bad config, unreachable database) is logged as one
 * line on stderr and the process exits 1.
 */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: 'start-up failed', err: error instanceof Error ? error.message : String(error) })}\n`);
    process.exit(1);
  });
}
