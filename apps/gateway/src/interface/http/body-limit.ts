import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { ProblemError } from '@msr/service-defaults';

/** The 413 problem for a body over `maxBytes`. */
export function bodyTooLarge(maxBytes: number): ProblemError {
  return new ProblemError(413, 'REQUEST.TOO_LARGE', `The request body exceeds the limit of ${maxBytes} bytes`, { max_bytes: maxBytes });
}

/**
 * Refuses a declared `Content-Length` over `maxBytes` before anything is forwarded. (Node
 * discards the unread body after the answer, so clients that insist on sending it all still read
 * their 413.) Bodies without a length (chunked) are counted as they stream by {@link limitStreamedBody}.
 *
 * @throws {ProblemError} 413 `REQUEST.TOO_LARGE`.
 */
export function assertDeclaredLengthWithin(headers: IncomingHttpHeaders, maxBytes: number): void {
  const declared = headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) throw bodyTooLarge(maxBytes);
}

/**
 * The request body as a stream that passes bytes through untouched while counting them, and
 * fails once more than `maxBytes` went by: `onExceeded` runs first (to abort the upstream call
 * and answer 413), then the stream errors so the upload stops.
 */
export function limitStreamedBody(req: IncomingMessage, maxBytes: number, onExceeded: () => void): Readable {
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) {
        onExceeded();
        done(bodyTooLarge(maxBytes));
        return;
      }
      done(null, chunk);
    },
  });
  req.on('error', (error) => counter.destroy(error));
  // The upstream call may already have let go of the stream when it fails; onExceeded has told
  // the caller, so the error must not go unhandled (it would crash the process).
  counter.on('error', () => undefined);
  return req.pipe(counter);
}
