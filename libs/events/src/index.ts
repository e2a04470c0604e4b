export { defaultPartitions, Topics, type Topic } from './topics.js';
export { isMessageType, messageCatalog, PaymentDeclineCode, type MessageType, type PayloadOf } from './catalog.js';
export {
  createMessage,
  decodeMessage,
  encodeMessage,
  InvalidMessageError,
  type MessageEnvelope,
  type MessageOptions,
  type WireRecord,
} from './envelope.js';
export { withAsyncCommit } from './async-commit.js';
export { eventsMigrations } from './migrations.js';
export { enqueueMessage, wakeOutboxRelays, withOutboxTransaction } from './outbox.js';
export { defaultOutboxLingerMs, defaultOutboxRetentionMs, OutboxRelay, type OutboxRelayOptions } from './outbox-relay.js';
export {
  defaultHandlerRetry,
  defaultMaxDeliveries,
  InboxConsumer,
  PoisonMessageError,
  type InboxConsumerOptions,
  type InboxContext,
  type InboxHandler,
  type InboxOutcome,
  type ReplayResult,
} from './inbox-consumer.js';
export {
  DeadLetterAlreadyReplayedError,
  DeadLetterNotFoundError,
  DeadLetterReplayError,
  deadLetterTopic,
  getDeadLetter,
  listDeadLetters,
  type DeadLetter,
  type DeadLetterFilter,
} from './dead-letters.js';
export { deadLetterJson, deadLettersRouter, maxListedDeadLetters } from './dead-letters.router.js';
export {
  createKafkaBus,
  defaultHeartbeatIntervalMs,
  defaultSessionTimeoutMs,
  type BusConsumer,
  type BusConsumerRun,
  type BusProducer,
  type KafkaBus,
  type KafkaBusOptions,
} from './kafka/kafka-bus.js';
export type { IncomingRecord, OutgoingRecord } from './kafka/records.js';
