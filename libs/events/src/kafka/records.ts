import type { IHeaders } from 'kafkajs';
import type { WireRecord } from '../envelope.js';

/**
 * A record to publish: an encoded message and the topic it goes to. The key is null only for a
 * dead letter republished as it arrived (a foreign record without a key).
 */
export interface OutgoingRecord extends Omit<WireRecord, 'key'> {
  topic: string;
  key: string | null;
}

/**
 * A record as consumed, before decoding. Key and value are null when the producer sent none
 * (a foreign producer or a tombstone); header values are decoded as UTF-8.
 */
export interface IncomingRecord {
  topic: string;
  partition: number;
  /** Kafka offset as a decimal string (it may exceed 2^53). */
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  /**
   * Which assignment of its partition delivered it: a number unique in the process, new with
   * every group join of any of its consumers (a kafkajs restart included). The first records of a partition after a new
   * assignment may have been in flight in a member that died; later ones were never delivered
   * before within this assignment.
   */
  assignment: number;
}

/** A map key naming one partition of one topic. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * Turns kafkajs headers (Buffers, strings or repeated values) into one string per name. A
 * repeated header keeps its first value: our producers never repeat one.
 */
export function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers ?? {})) {
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value !== undefined) result[name] = value.toString();
  }
  return result;
}
