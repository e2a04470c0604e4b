import { createMessage, enqueueMessage, type MessageEnvelope, type MessageType } from '@msr/events';
import type { RetryPolicy, SagaDefinition } from '@msr/saga';
import { RejectionCodes } from '../../domain/order.errors.js';
import type { InventoryRepository, OrderRepository, Shortage, UserDirectory } from '../ports.js';

/** The PlaceOrder saga's data, persisted with the saga (`saga_instances.data`). Amounts in cents. */
export interface PlaceOrderData {
  order_id: string;
  user_id: string;
  items: Array<{ sku: string; quantity: number; unit_price_cents: number }>;
  total_cents: number;
  /** Set by authorize-payment. */
  payment_id?: string;
}

/** Topics the saga writes to; injectable so tests can use their own. */
export interface PlaceOrderTopics {
  orderEvents: string;
  paymentCommands: string;
}

/** What {@link createPlaceOrderSaga} needs. */
export interface PlaceOrderSagaDeps {
  users: UserDirectory;
  orders: OrderRepository;
  inventory: InventoryRepository;
  topics: PlaceOrderTopics;
  /** verify-user: attempts, backoff, and the time limit of one attempt in ms (HTTP retries included). */
  verifyUser: { retry: RetryPolicy; timeoutMs: number };
  /** Retries of the local steps and of sending commands. */
  localRetry: RetryPolicy;
  /** How long authorize-payment waits for payment-service's reply, in ms; undefined waits without deadline. */
  paymentReplyTimeoutMs?: number;
  /** The saga deadline: an order not approved this long after it was placed is rejected, in ms; undefined: none. */
  deadlineMs?: number;
}

/** Name of the saga definition (stored with every instance). */
export const placeOrderSagaName = 'place-order';

/**
 * The PlaceOrder saga (SYSTEM.md, "The PlaceOrder saga"; seed 002's order saga):
 *
 * | # | step | how | compensation |
 * | 1 | verify-user | HTTP GET /users/{id} through discovery and a breaker | none |
 * | 2 | reserve-inventory | local transaction | release-inventory |
 * | 3 | authorize-payment | Kafka command `payment.authorize`, reply on the saga reply topic | refund-payment |
 * | 4 | approve-order | local transaction: the pivot | none |
 *
 * Business failures (user missing or not active, out of stock, payment declined) compensate the
 * completed steps in reverse, then the order is rejected with the failure's code and reason and
 * `order.rejected` goes to the outbox (`onCompensated`). Approval confirms the reservation (the
 * semantic lock on the stock, pending until then) and writes `order.approved`. An order still
 * undecided at the saga deadline is rejected with `SAGA.DEADLINE_EXCEEDED`.
 */
export function createPlaceOrderSaga(deps: PlaceOrderSagaDeps): SagaDefinition<PlaceOrderData> {
  return {
    name: placeOrderSagaName,
    version: 1,
    ...(deps.deadlineMs === undefined ? {} : { deadlineMs: deps.deadlineMs }),
    steps: [
      {
        name: 'verify-user',
        // Read-only: nothing to undo, but it may only run before the pivot.
        kind: 'compensatable',
        action: {
          type: 'remote',
          retry: deps.verifyUser.retry,
          timeoutMs: deps.verifyUser.timeoutMs,
          async invoke({ data }) {
            const user = await deps.users.lookup(data.user_id);
            if (!user.found) return { status: 'failed', code: RejectionCodes.userNotFound, reason: `User ${data.user_id} does not exist` };
            if (user.status !== 'active') return { status: 'failed', code: RejectionCodes.userNotActive, reason: `User ${data.user_id} is ${user.status}, not active` };
            return { status: 'succeeded' };
          },
        },
      },
      {
        name: 'reserve-inventory',
        kind: 'compensatable',
        action: {
          type: 'local',
          retry: deps.localRetry,
          async invoke({ tx, data }) {
            const result = await deps.inventory.reserve(tx, data.order_id, data.items);
            if (!result.ok) return { status: 'failed', code: RejectionCodes.outOfStock, reason: describeShortages(result.shortages) };
            return { status: 'succeeded' };
          },
        },
        compensation: {
          type: 'local',
          name: 'release-inventory',
          retry: deps.localRetry,
          async invoke({ tx, data, logger }) {
            const released = await deps.inventory.release(tx, data.order_id);
            logger.info({ order_id: data.order_id, released }, 'inventory released');
            return { status: 'succeeded' };
          },
        },
      },
      {
        name: 'authorize-payment',
        kind: 'compensatable',
        action: {
          type: 'command',
          retry: deps.localRetry,
          ...(deps.paymentReplyTimeoutMs === undefined ? {} : { timeoutMs: deps.paymentReplyTimeoutMs }),
          command: ({ data }) => ({
            message: createMessage('payment.authorize', { order_id: data.order_id, user_id: data.user_id, amount_cents: data.total_cents }, { key: data.order_id }),
            topic: deps.topics.paymentCommands,
          }),
          onReply(reply) {
            if (is(reply, 'payment.authorized')) return { status: 'succeeded', data: { payment_id: reply.payload.payment_id } };
            if (is(reply, 'payment.declined')) return { status: 'failed', code: `PAYMENT.${reply.payload.reason_code}`, reason: reply.payload.reason };
            throw new Error(`authorize-payment cannot take a ${reply.type} reply`);
          },
        },
        compensation: {
          type: 'command',
          name: 'refund-payment',
          retry: deps.localRetry,
          command: ({ data }) => ({
            message: createMessage('payment.refund', { order_id: data.order_id, reason: 'order rejected' }, { key: data.order_id }),
            topic: deps.topics.paymentCommands,
          }),
          onReply(reply) {
            if (is(reply, 'payment.refunded')) return { status: 'succeeded' };
            throw new Error(`refund-payment cannot take a ${reply.type} reply`);
          },
        },
      },
      {
        name: 'approve-order',
        kind: 'pivot',
        action: {
          type: 'local',
          retry: deps.localRetry,
          async invoke({ tx, data }) {
            const record = await deps.orders.findById(tx, data.order_id);
            if (record === undefined) throw new Error(`order ${data.order_id} is missing`);
            const paymentId = data.payment_id;
            if (paymentId === undefined) throw new Error(`order ${data.order_id} has no payment to approve it with`);
            const now = new Date();
            await deps.inventory.confirm(tx, data.order_id);
            if (record.order.approve(now)) {
              await deps.orders.save(tx, record.order);
              const approved = createMessage(
                'order.approved',
                { order_id: data.order_id, user_id: data.user_id, total_cents: data.total_cents, payment_id: paymentId, approved_at: now.toISOString() },
                { key: data.order_id },
              );
              await enqueueMessage(tx, approved, deps.topics.orderEvents);
            }
            return { status: 'succeeded' };
          },
        },
      },
    ],
    async onCompensated({ tx, data, failure }) {
      const record = await deps.orders.findById(tx, data.order_id);
      if (record === undefined) throw new Error(`order ${data.order_id} is missing`);
      const now = new Date();
      if (!record.order.reject(failure.code, failure.reason, now)) return;
      await deps.orders.save(tx, record.order);
      const rejected = createMessage(
        'order.rejected',
        { order_id: data.order_id, user_id: data.user_id, reason_code: failure.code, reason: failure.reason, rejected_at: now.toISOString() },
        { key: data.order_id },
      );
      await enqueueMessage(tx, rejected, deps.topics.orderEvents);
    },
  };
}

function is<T extends MessageType>(message: MessageEnvelope, type: T): message is MessageEnvelope<T> {
  return message.type === type;
}

function describeShortages(shortages: readonly Shortage[]): string {
  return `Not enough stock: ${shortages.map((s) => `${s.sku} (${s.requested} requested, ${s.available} available)`).join(', ')}`;
}
