import type { InboxConsumer } from '@msr/events';
import type { SagaOrchestrator } from '@msr/saga';

/** The replies the PlaceOrder saga awaits on its reply topic. */
export const sagaReplyTypes = ['payment.authorized', 'payment.declined', 'payment.refunded'] as const;

/**
 * Hands every saga reply to the orchestrator inside the inbox transaction, so the reply is
 * recorded as processed in the same commit as the saga transition it causes, and the saga moves
 * on right after that commit. Replies no saga awaits (late, duplicated, reordered) are ignored by
 * the orchestrator and logged there.
 */
export function registerSagaReplyHandlers(consumer: InboxConsumer, orchestrator: SagaOrchestrator): InboxConsumer {
  for (const type of sagaReplyTypes) {
    consumer.on(type, async (message, tx, context) => {
      await orchestrator.handleReply(message, tx, { afterCommit: context.afterCommit });
    });
  }
  return consumer;
}
