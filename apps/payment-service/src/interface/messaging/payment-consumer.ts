import { InboxConsumer, Topics, type KafkaBus } from '@msr/events';
import type { Logger, Metrics } from '@msr/service-defaults';
import type pg from 'pg';
import type { Money } from '../../domain/money.value-object.js';
import { authorizePaymentHandler, refundPaymentHandler } from './payment-commands.handler.js';
import { userCreatedHandler } from './user-events.handler.js';

/** The topics and consumer group payment-service works with; tests pass their own. */
export interface PaymentTopics {
  /** Consumer group id, also the inbox's consumer name. */
  groupId: string;
  /** Where `user.created` arrives. */
  userEvents: string;
  /** Where `payment.authorize` and `payment.refund` arrive. */
  paymentCommands: string;
  /** Where `payment.authorized`, `payment.declined` and `payment.refunded` are announced. */
  paymentEvents: string;
}

/** The topics of a deployed payment-service, consumed as group `payment-service`. */
export const defaultPaymentTopics: PaymentTopics = {
  groupId: 'payment-service',
  userEvents: Topics.userEvents,
  paymentCommands: Topics.paymentCommands,
  paymentEvents: Topics.paymentEvents,
};

/** What {@link createPaymentConsumer} needs. */
export interface PaymentConsumerOptions {
  bus: KafkaBus;
  pool: pg.Pool;
  logger: Logger;
  /** Balance of each account opened on `user.created`. */
  startingBalance: Money;
  metricsRegistry?: Metrics['registry'];
  topics?: PaymentTopics;
}

/**
 * payment-service's idempotent consumer (inbox pattern): `user.created` opens an account,
 * `payment.authorize` and `payment.refund` move money and reply on the command's `reply_to`.
 * Each handler runs in the transaction that records the message in the inbox and writes the
 * replies to the outbox. Other user events are recorded and skipped. One group for both topics:
 * one inbox, one set of metrics; partitions are consumed concurrently, so a backlog of user
 * events does not hold up the saga's commands. Call `start()` to join, `stop()` on shutdown.
 */
export function createPaymentConsumer(options: PaymentConsumerOptions): InboxConsumer {
  const topics = options.topics ?? defaultPaymentTopics;
  const commandDeps = { logger: options.logger, eventsTopic: topics.paymentEvents };
  return new InboxConsumer({
    bus: options.bus,
    pool: options.pool,
    logger: options.logger,
    groupId: topics.groupId,
    topics: [topics.userEvents, topics.paymentCommands],
    ...(options.metricsRegistry === undefined ? {} : { metricsRegistry: options.metricsRegistry }),
  })
    .on('user.created', userCreatedHandler(options.startingBalance, options.logger))
    .on('payment.authorize', authorizePaymentHandler(commandDeps))
    .on('payment.refund', refundPaymentHandler(commandDeps));
}
