import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { isMessageType, messageCatalog, type MessageType, type PayloadOf } from './catalog.js';

/**
 * A message with its metadata (SYSTEM.md, Messaging). On Kafka the metadata travels as headers
 * (`message_id`, `event_type`, `version`, `occurred_at`, `correlation_id`, `causation_id`,
 * `reply_to`), the payload as the JSON value and `key` as the record key.
 */
export interface MessageEnvelope<T extends MessageType = MessageType> {
  /** UUID; consumers deduplicate by it (inbox). Commands from a saga use deterministic ids. */
  id: string;
  type: T;
  /** Schema version of the payload, e.g. `1.0`. */
  version: string;
  /** RFC 3339 time the message was created. */
  occurred_at: string;
  /** Ties a conversation together: the saga id where there is one, else the aggregate id. */
  correlation_id: string;
  /** Id of the message that caused this one, or null. */
  causation_id: string | null;
  /** Record key: the aggregate id, so one aggregate's messages keep their order. */
  key: string;
  /** For commands: the topic the reply goes to. */
  reply_to?: string;
  payload: PayloadOf<T>;
}

/** Metadata a producer chooses when creating a message. */
export interface MessageOptions {
  key: string;
  correlationId?: string;
  causationId?: string | null;
  replyTo?: string;
  /** Defaults to a random UUID; give a deterministic one to make a command idempotent. */
  id?: string;
  /** Defaults to now. */
  occurredAt?: Date;
}

/**
 * Creates a message of a catalogued type, validating the payload.
 *
 * @throws {InvalidMessageError} when the payload does not match the type's schema, or the key or
 * correlation id is empty.
 */
export function createMessage<T extends MessageType>(type: T, payload: PayloadOf<T>, options: MessageOptions): MessageEnvelope<T> {
  // Consumers reject a record without a key or correlation id, so never produce one.
  if (options.key === '') throw new InvalidMessageError(`${type} needs a non-empty key`);
  if (options.correlationId === '') throw new InvalidMessageError(`${type} needs a non-empty correlation id`);
  const parsed = messageCatalog[type].payload.safeParse(payload);
  if (!parsed.success) throw new InvalidMessageError(`invalid ${type} payload: ${z.prettifyError(parsed.error)}`);
  return {
    id: options.id ?? randomUUID(),
    type,
    version: messageCatalog[type].version,
    occurred_at: (options.occurredAt ?? new Date()).toISOString(),
    correlation_id: options.correlationId ?? options.key,
    causation_id: options.causationId ?? null,
    key: options.key,
    ...(options.replyTo === undefined ? {} : { reply_to: options.replyTo }),
    payload: parsed.data as PayloadOf<T>,
  };
}

/** A message that cannot be decoded or does not match its schema. Never retried: dead-lettered. */
export class InvalidMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidMessageError';
  }
}

/** A Kafka record as the transport sees it: key, value bytes and string headers. */
export interface WireRecord {
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** Turns an envelope into a Kafka record. */
export function encodeMessage(message: MessageEnvelope): WireRecord {
  const headers: Record<string, string> = {
    message_id: message.id,
    event_type: message.type,
    version: message.version,
    occurred_at: message.occurred_at,
    correlation_id: message.correlation_id,
  };
  if (message.causation_id !== null) headers['causation_id'] = message.causation_id;
  if (message.reply_to !== undefined) headers['reply_to'] = message.reply_to;
  return { key: message.key, value: JSON.stringify(message.payload), headers };
}

const headerSchema = z.object({
  message_id: z.uuid(),
  event_type: z.string(),
  version: z.string().regex(/^\d+\.\d+$/),
  occurred_at: z.iso.datetime({ offset: true }),
  correlation_id: z.string().min(1),
  causation_id: z.string().optional(),
  reply_to: z.string().optional(),
});

/**
 * Validates a Kafka record (headers, key, JSON payload) against the catalog and returns the
 * envelope.
 *
 * @throws {InvalidMessageError} for unknown types, unsupported major versions, bad JSON or a
 * payload that does not match its schema.
 */
export function decodeMessage(record: WireRecord): MessageEnvelope {
  const headers = headerSchema.safeParse(record.headers);
  if (!headers.success) throw new InvalidMessageError(`invalid headers: ${z.prettifyError(headers.error)}`);
  const { event_type: type, version } = headers.data;
  if (!isMessageType(type)) throw new InvalidMessageError(`unknown message type ${type}`);
  const entry = messageCatalog[type];
  if (version.split('.')[0] !== entry.version.split('.')[0]) {
    throw new InvalidMessageError(`${type} version ${version} is not supported (expected ${entry.version})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(record.value);
  } catch {
    throw new InvalidMessageError(`${type} value is not JSON`);
  }
  const payload = entry.payload.safeParse(json);
  if (!payload.success) throw new InvalidMessageError(`invalid ${type} payload: ${z.prettifyError(payload.error)}`);
  return {
    id: headers.data.message_id,
    type,
    version,
    occurred_at: headers.data.occurred_at,
    correlation_id: headers.data.correlation_id,
    causation_id: headers.data.causation_id ?? null,
    key: record.key,
    ...(headers.data.reply_to === undefined ? {} : { reply_to: headers.data.reply_to }),
    payload: payload.data,
  } as MessageEnvelope;
}
