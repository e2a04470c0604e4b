import type { Readable } from 'node:stream';
import type { Cancellation } from './cancellation.js';

/** Where an upstream instance listens (a `ServiceInstance` from discovery fits). */
export interface UpstreamTarget {
  /** The service it belongs to, for error messages. */
  name: string;
  address: string;
  port: number;
}

/** One HTTP request to an upstream instance; the body is streamed, never buffered. */
export interface UpstreamRequest {
  method: string;
  /** Path and query, e.g. `/users/1?fields=name`. */
  path: string;
  /** Headers to send, already cleaned of hop-by-hop headers. */
  headers: Record<string, string | string[]>;
  /** The request body as a stream, or undefined for none. */
  body?: Readable;
  /** Aborts the request (timeout or client gone). */
  signal: Cancellation;
}

/** The upstream's answer: status and headers as soon as they arrive, the body still streaming. */
export interface UpstreamResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/** Sends HTTP requests to upstream instances (undici in production, see infrastructure/). */
export interface UpstreamClient {
  /**
   * Sends `request` to `target` and resolves once the status and headers arrived.
   *
   * @throws {GatewayError} `GATEWAY.UPSTREAM_UNREACHABLE` when the connection was refused, reset
   *   or cut; `GATEWAY.BAD_UPSTREAM_RESPONSE` when the answer is not valid HTTP; any error when
   *   `request.signal` aborted.
   */
  send(target: UpstreamTarget, request: UpstreamRequest): Promise<UpstreamResponse>;
}
