export { commandMessageId } from './command-id.js';
export {
  SagaDefinitionError,
  validateDefinition,
  type ActionResult,
  type CommandAction,
  type LocalAction,
  type LocalContext,
  type RemoteAction,
  type RemoteContext,
  type SagaAction,
  type SagaCommand,
  type SagaDefinition,
  type SagaDirection,
  type SagaEndContext,
  type SagaFailure,
  type SagaStep,
  type StepContext,
  type StepKind,
} from './definition.js';
export { NonRetryableError, SagaNotFoundError, SagaNotRetryableError, StepTimeoutError } from './errors.js';
export { sagaMigrations } from './migrations.js';
export { defaultRetryPolicy, validateRetryPolicy, type RetryPolicy } from './retry-policy.js';
export {
  SagaOrchestrator,
  type CommitHook,
  type ReplyOutcome,
  type SagaOrchestratorOptions,
  type SagaQuery,
  type SagaSummary,
  type SagaView,
} from './saga.orchestrator.js';
export { SagaConcurrencyError, type SagaStepLogEntry, type SagaTimelineEntry, type TimelineEvent } from './saga.repository.js';
export { finalStatuses, sagaStatuses, type SagaStatus, type StepLogStatus } from './state-machine.js';
