import type { MessageEnvelope } from '@msr/events';
import { runWithLogContext, type Logger, type Queryable } from '@msr/service-defaults';
import { authorizePayment } from '../../application/authorize-payment.use-case.js';
import { refundPayment } from '../../application/refund-payment.use-case.js';
import { pgRepositories } from '../../infrastructure/pg-repositories.js';
import { replyToCommand } from './payment-replies.js';

/** What the command handlers need. */
export interface CommandHandlerDeps {
  logger: Logger;
  /** Where state changes are announced as events: `payment.events` in a deployment. */
  eventsTopic: string;
}

/**
 * Handles `payment.authorize` inside the inbox transaction `tx`: authorizes once per order and
 * replies `payment.authorized {payment_id, order_id, user_id, amount_cents}` or
 * `payment.declined {order_id, user_id, amount_cents, reason_code, reason}` (see
 * {@link replyToCommand}). A repeated command for an answered order replies the recorded outcome.
 */
export function authorizePaymentHandler({ logger, eventsTopic }: CommandHandlerDeps) {
  return (command: MessageEnvelope<'payment.authorize'>, tx: Queryable): Promise<void> =>
    // The correlation id of a saga's command is the saga id: every log line of the handling carries it.
    runWithLogContext({ saga_id: command.correlation_id }, async () => {
    const { order_id: orderId, user_id: userId, amount_cents: amountCents } = command.payload;
    const { payment, replayed } = await authorizePayment(pgRepositories(tx), { orderId, userId, amountCents });
    const routing = { announceOn: replayed ? null : eventsTopic };
    // A refunded payment was authorized first: that is the outcome of the authorization.
    if (payment.decline === undefined) {
      const payload = { payment_id: payment.id, order_id: payment.orderId, user_id: payment.userId, amount_cents: payment.amount.cents };
      await replyToCommand(tx, command, 'payment.authorized', payload, routing);
    } else {
      const payload = {
        order_id: payment.orderId,
        user_id: payment.userId,
        amount_cents: payment.amount.cents,
        reason_code: payment.decline.code,
        reason: payment.decline.message,
      };
      await replyToCommand(tx, command, 'payment.declined', payload, routing);
    }
    logger.info({ order_id: orderId, payment_id: payment.id, status: payment.status, replayed }, 'payment authorization answered');
    });
}

/**
 * Handles `payment.refund` inside the inbox transaction `tx`: credits an authorized payment back
 * once and replies `payment.refunded {order_id, payment_id, amount_cents}`; a repeated refund
 * replies the same without crediting; with no authorized payment it replies `payment_id: null`,
 * `amount_cents: 0`.
 */
export function refundPaymentHandler({ logger, eventsTopic }: CommandHandlerDeps) {
  return (command: MessageEnvelope<'payment.refund'>, tx: Queryable): Promise<void> =>
    runWithLogContext({ saga_id: command.correlation_id }, async () => {
    const orderId = command.payload.order_id;
    const outcome = await refundPayment(pgRepositories(tx), { orderId, reason: command.payload.reason });
    switch (outcome.kind) {
      case 'refunded':
      case 'already_refunded': {
        const { payment } = outcome;
        const payload = { order_id: orderId, payment_id: payment.id, amount_cents: payment.amount.cents };
        await replyToCommand(tx, command, 'payment.refunded', payload, {
          announceOn: outcome.kind === 'refunded' ? eventsTopic : null,
        });
        break;
      }
      case 'nothing_to_refund':
        await replyToCommand(tx, command, 'payment.refunded', { order_id: orderId, payment_id: null, amount_cents: 0 }, { announceOn: null });
        break;
    }
    logger.info({ order_id: orderId, outcome: outcome.kind, reason: command.payload.reason }, 'payment refund answered');
    });
}
