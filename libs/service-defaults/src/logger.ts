import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type DestinationStream, type Logger } from 'pino';

/** Correlation fields that every log line written inside a request or saga step carries. */
export interface LogContext {
  request_id?: string;
  saga_id?: string;
}

const logContext = new AsyncLocalStorage<LogContext>();
/** What the logger's mixin answers outside any context; never merged into, never changed. */
const noContext: LogContext = Object.freeze({});

/**
 * Runs `fn` with extra correlation fields; log lines written inside it, however deep, carry
 * them. Nested calls merge their fields.
 */
export function runWithLogContext<T>(fields: LogContext, fn: () => T): T {
  return logContext.run({ ...logContext.getStore(), ...fields }, fn);
}

/** The correlation fields in force here, e.g. to forward `X-Request-Id` on an outbound call. */
export function currentLogContext(): Readonly<LogContext> {
  return logContext.getStore() ?? {};
}

/**
 * Creates the process logger: JSON lines with `service`, ISO time, the level as a word and the
 * correlation fields from {@link runWithLogContext}. By default lines go to stdout asynchronously
 * (a write in flight collects the lines logged meanwhile), so logging stays off the request's
 * critical path; {@link Lifecycle} flushes before the process exits.
 */
export function createLogger(options: { service: string; level?: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Outside any context (a gateway's access log, a relay's poll) a line is written as given:
      // not copied field by field into a fresh object first.
      mixin: () => logContext.getStore() ?? noContext,
      mixinMergeStrategy: (fields, context) => (context === noContext ? fields : { ...context, ...fields }),
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

export type { Logger } from 'pino';
