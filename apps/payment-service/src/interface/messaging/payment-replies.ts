import { createMessage, enqueueMessage, Topics, type MessageEnvelope, type PayloadOf } from '@msr/events';
import type { Queryable } from '@msr/service-defaults';

/** The facts payment-service answers its commands with. */
export type PaymentReplyType = 'payment.authorized' | 'payment.declined' | 'payment.refunded';

/** A command payment-service handles; every one names its order. */
type PaymentCommand = MessageEnvelope<'payment.authorize'> | MessageEnvelope<'payment.refund'>;

/** How a command is answered: the reply always; the event only when `announceOn` is a topic. */
export interface ReplyRouting {
  /**
   * The topic that announces the fact as an event (`payment.events` in a deployment), or null
   * for a replay of an earlier outcome: its event went out when the state changed.
   */
  announceOn: string | null;
}

/**
 * Answers `command` through the transactional outbox, on `tx` (the transaction that also holds the
 * inbox record and the balance change):
 * - the reply goes to the command's `reply_to` topic (the saga's reply topic; when a sender gave
 *   none, `order.saga-replies`), keyed by order id, correlated with the command's correlation id
 *   and caused by the command;
 * - when the command changed state, the same fact is also announced as an event on
 *   `routing.announceOn` (`payment.events`), as a second message with its own id.
 */
export async function replyToCommand<T extends PaymentReplyType>(
  tx: Queryable,
  command: PaymentCommand,
  type: T,
  payload: PayloadOf<T>,
  routing: ReplyRouting,
): Promise<void> {
  const options = { key: command.payload.order_id, correlationId: command.correlation_id, causationId: command.id };
  await enqueueMessage(tx, createMessage(type, payload, options), command.reply_to ?? Topics.orderSagaReplies);
  if (routing.announceOn !== null) await enqueueMessage(tx, createMessage(type, payload, options), routing.announceOn);
}
