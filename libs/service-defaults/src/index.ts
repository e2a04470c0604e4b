export { ConfigError, commonServiceEnv, env, loadConfig, type CommonServiceConfig } from './config.js';
export { createPool, migrate, migrationSource, sendInTransaction, withTransaction, writeEachTickAtOnce, type MigrationSource, type Queryable, type TransactionOptions } from './database.js';
export { Health, type HealthReport, type ReadinessCheck } from './health.js';
export { closeServer, createHttpApp, listen, requestId, requestIdOf, type HttpAppOptions, type Listening } from './http.js';
export { Lifecycle, runMain, type ShutdownStep } from './lifecycle.js';
export { createLogger, currentLogContext, runWithLogContext, type LogContext, type Logger } from './logger.js';
export { Metrics } from './metrics.js';
export { openApi, problemSchema, type JsonObject } from './openapi.js';
export {
  notFoundHandler,
  problemBody,
  problemHandler,
  ProblemError,
  problemOf,
  writeProblem,
  validate,
  type ErrorMapper,
  type InvalidParam,
  type ProblemBody,
} from './problem.js';
