import { createHash } from 'node:crypto';
import type { SagaDirection } from './definition.js';

/** The UUID namespace of saga command ids (a fixed random v4, so ids never collide with other v5 uses). */
const commandNamespace = '0f3c6f1e-7f8a-4c55-9a43-5d1b2f3e8c10';

/**
 * An RFC 9562 version-5 UUID: SHA-1 of the namespace's 16 bytes followed by `name` in UTF-8,
 * with the version and variant bits set.
 */
export function uuidV5(name: string, namespace: string): string {
  const bytes = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The message id of the command a saga sends for `step` in `direction`: the same inputs always
 * give the same id, so re-sending after a crash is recognised by the participant's inbox, and a
 * reply is matched to the command it answers by its causation id. `generation` counts operator
 * retries of a parked saga (0 before any): a retried command needs a new id, or the participant's
 * inbox would skip it.
 */
export function commandMessageId(sagaId: string, step: string, direction: SagaDirection, generation = 0): string {
  return uuidV5(generation === 0 ? `${sagaId}/${step}/${direction}` : `${sagaId}/${step}/${direction}/${generation}`, commandNamespace);
}
