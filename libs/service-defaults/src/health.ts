import type { RequestHandler } from 'express';

/** A readiness probe: resolves when the dependency is usable, rejects with the reason when not. */
export type ReadinessCheck = () => Promise<void>;

/** The body of `GET /health`. */
export interface HealthReport {
  status: 'ok' | 'draining' | 'unhealthy';
  checks: Record<string, 'ok' | string>;
}

/**
 * Liveness and readiness of one process (seed 000's `/health`, which the registry's HTTP check
 * polls: any 2xx passes). Readiness fails while a dependency check fails, and from the moment
 * shutdown begins, so the registry and load balancers stop routing here before the server closes.
 */
export class Health {
  private readonly checks = new Map<string, ReadinessCheck>();
  private draining = false;

  /** Adds a named dependency check, e.g. `postgres` pinging the pool. Each is given 2 s. */
  addCheck(name: string, check: ReadinessCheck): this {
    this.checks.set(name, check);
    return this;
  }

  /** Marks the process as shutting down: readiness answers 503 from now on. */
  startDraining(): void {
    this.draining = true;
  }

  /** Runs every check concurrently and reports the outcome. */
  async report(): Promise<HealthReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          await withTimeout(check(), 2_000);
          return [name, 'ok'] as const;
        } catch (error) {
          return [name, error instanceof Error ? error.message : String(error)] as const;
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    const healthy = entries.every(([, result]) => result === 'ok');
    return { status: this.draining ? 'draining' : healthy ? 'ok' : 'unhealthy', checks };
  }

  /** `GET /health`: 200 when ready, 503 when draining or a check fails. */
  readonly handler: RequestHandler = async (_req, res) => {
    const report = await this.report();
    res.status(report.status === 'ok' ? 200 : 503).json(report);
  };

  /** `GET /health/live`: 200 while the event loop runs. */
  readonly liveHandler: RequestHandler = (_req, res) => {
    res.json({ status: 'ok' });
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
