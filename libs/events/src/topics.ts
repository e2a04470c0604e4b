/**
 * Every Kafka topic of the system, in one place (SYSTEM.md, Messaging). Events of one aggregate
 * type share a topic and are keyed by the aggregate id, so one aggregate's events stay in order.
 */
export const Topics = {
  /** `user.created`, `user.updated`, `user.deleted`, keyed by user id. */
  userEvents: 'user.events',
  /** `order.created`, `order.approved`, `order.rejected`, keyed by order id. */
  orderEvents: 'order.events',
  /** `payment.authorized`, `payment.declined`, `payment.refunded`, keyed by order id. */
  paymentEvents: 'payment.events',
  /** Commands to payment-service: `payment.authorize`, `payment.refund`, keyed by order id. */
  paymentCommands: 'payment.commands',
  /** Replies to the PlaceOrder saga orchestrator in order-service, keyed by order id. */
  orderSagaReplies: 'order.saga-replies',
} as const;

/** A topic name from {@link Topics}. */
export type Topic = (typeof Topics)[keyof typeof Topics];

/** Partitions per topic; one broker in development, so replication factor 1. */
export const defaultPartitions = 3;
