import { logLevel, type logCreator } from 'kafkajs';
import type { Logger } from '@msr/service-defaults';

/** The kafkajs level to log at so that nothing the pino logger would drop is produced. */
export function kafkaLogLevel(logger: Logger): logLevel {
  if (logger.isLevelEnabled('debug')) return logLevel.DEBUG;
  if (logger.isLevelEnabled('info')) return logLevel.INFO;
  if (logger.isLevelEnabled('warn')) return logLevel.WARN;
  if (logger.isLevelEnabled('error')) return logLevel.ERROR;
  return logLevel.NOTHING;
}

/**
 * kafkajs warnings that describe a deliberate choice: the producer's retries are limited so that
 * failures reach the outbox relay, whose re-sends are deduplicated by the consumers' inbox.
 */
const expectedWarnings = new Set(['Limiting retries for the idempotent producer may invalidate EoS guarantees']);

/**
 * Routes kafkajs' own log lines into the process's pino logger, so the broker client writes the
 * same JSON lines (service, request and saga ids) as everything else instead of its own format.
 * Each line carries `kafka` = the kafkajs namespace (e.g. `Consumer`, `Connection`). Warnings
 * about choices made on purpose are demoted to debug.
 */
export function pinoLogCreator(logger: Logger): logCreator {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log }) => {
      // kafkajs adds its own timestamp and logger name; pino has both already.
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = log;
      const fields = { kafka: namespace, ...extra };
      switch (level) {
        case logLevel.ERROR:
          kafkaLogger.error(fields, message);
          break;
        case logLevel.WARN:
          if (expectedWarnings.has(message)) kafkaLogger.debug(fields, message);
          else kafkaLogger.warn(fields, message);
          break;
        case logLevel.INFO:
          kafkaLogger.info(fields, message);
          break;
        default:
          kafkaLogger.debug(fields, message);
      }
    };
}
