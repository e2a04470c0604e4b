import { z } from 'zod';
import { Topics, type Topic } from './topics.js';

const uuid = z.uuid();
const cents = z.number().int().nonnegative();
const timestamp = z.iso.datetime({ offset: true });

/** Why a payment was declined: business outcomes, not faults (`ORDER_CANCELLED`: a refund for the order came first). */
export const PaymentDeclineCode = z.enum(['INSUFFICIENT_FUNDS', 'ACCOUNT_NOT_FOUND', 'ORDER_CANCELLED']);

/**
 * Every message of the system: its type, schema version, default topic and payload schema. The
 * `version` travels in the `version` Kafka header (seed 002 uses `"1.0"`); a breaking change to a
 * payload gets a new major version here, beside the old one.
 */
export const messageCatalog = {
  'user.created': {
    kind: 'event',
    version: '1.0',
    topic: Topics.userEvents,
    payload: z.object({ user_id: uuid, email: z.string(), name: z.string(), status: z.enum(['pending', 'active', 'inactive']), created_at: timestamp }),
  },
  'user.updated': {
    kind: 'event',
    version: '1.0',
    topic: Topics.userEvents,
    payload: z.object({ user_id: uuid, email: z.string(), name: z.string(), status: z.enum(['pending', 'active', 'inactive']), updated_at: timestamp }),
  },
  'user.deleted': {
    kind: 'event',
    version: '1.0',
    topic: Topics.userEvents,
    payload: z.object({ user_id: uuid, deleted_at: timestamp }),
  },
  'order.created': {
    kind: 'event',
    version: '1.0',
    topic: Topics.orderEvents,
    payload: z.object({
      order_id: uuid,
      user_id: uuid,
      items: z.array(z.object({ sku: z.string(), quantity: z.number().int().positive(), unit_price_cents: cents })).min(1),
      total_cents: cents,
      created_at: timestamp,
    }),
  },
  'order.approved': {
    kind: 'event',
    version: '1.0',
    topic: Topics.orderEvents,
    payload: z.object({ order_id: uuid, user_id: uuid, total_cents: cents, payment_id: uuid, approved_at: timestamp }),
  },
  'order.rejected': {
    kind: 'event',
    version: '1.0',
    topic: Topics.orderEvents,
    payload: z.object({ order_id: uuid, user_id: uuid, reason_code: z.string(), reason: z.string(), rejected_at: timestamp }),
  },
  'payment.authorize': {
    kind: 'command',
    version: '1.0',
    topic: Topics.paymentCommands,
    payload: z.object({ order_id: uuid, user_id: uuid, amount_cents: cents.positive() }),
  },
  'payment.refund': {
    kind: 'command',
    version: '1.0',
    topic: Topics.paymentCommands,
    payload: z.object({ order_id: uuid, reason: z.string() }),
  },
  'payment.authorized': {
    kind: 'event',
    version: '1.0',
    topic: Topics.paymentEvents,
    payload: z.object({ payment_id: uuid, order_id: uuid, user_id: uuid, amount_cents: cents }),
  },
  'payment.declined': {
    kind: 'event',
    version: '1.0',
    topic: Topics.paymentEvents,
    payload: z.object({ order_id: uuid, user_id: uuid, amount_cents: cents, reason_code: PaymentDeclineCode, reason: z.string() }),
  },
  'payment.refunded': {
    kind: 'event',
    version: '1.0',
    topic: Topics.paymentEvents,
    // payment_id is null when there was nothing to refund (the authorization never happened).
    payload: z.object({ order_id: uuid, payment_id: uuid.nullable(), amount_cents: cents }),
  },
} as const satisfies Record<string, { kind: 'event' | 'command'; version: string; topic: Topic; payload: z.ZodType }>;

/** The type name of a message, e.g. `payment.authorize`. */
export type MessageType = keyof typeof messageCatalog;

/** The payload shape of message type `T`. */
export type PayloadOf<T extends MessageType> = z.infer<(typeof messageCatalog)[T]['payload']>;

/** True when `type` is a message type this system knows. */
export function isMessageType(type: string): type is MessageType {
  return Object.hasOwn(messageCatalog, type);
}
