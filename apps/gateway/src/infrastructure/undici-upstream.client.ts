import { instanceBaseUrl } from '@msr/discovery';
import { Agent } from 'undici';
import type { UpstreamClient, UpstreamRequest, UpstreamResponse, UpstreamTarget } from '../application/upstream.port.js';
import { GatewayError } from '../domain/gateway.errors.js';

/** Options of {@link UndiciUpstreamClient}. */
export interface UndiciUpstreamClientOptions {
  /** The longest pause allowed between two chunks of an upstream's response body, in ms. */
  bodyTimeoutMs: number;
}

/** Error codes that mean the connection failed or broke: the upstream may never have seen the request. */
const connectionErrorCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Sends upstream requests with undici over pooled keep-alive connections, streaming the request
 * body up and handing the response body back as a stream.
 */
export class UndiciUpstreamClient implements UpstreamClient {
  private readonly agent: Agent;

  constructor(options: UndiciUpstreamClientOptions) {
    // undici's headers timeout stays at its default: the caller's signal (the breaker's per-call
    // timeout) bounds the wait for headers.
    this.agent = new Agent({ bodyTimeout: options.bodyTimeoutMs });
  }

  async send(target: UpstreamTarget, request: UpstreamRequest): Promise<UpstreamResponse> {
    const origin = instanceBaseUrl(target);
    try {
      const response = await this.agent.request({
        origin,
        path: request.path,
        method: request.method,
        headers: request.headers,
        body: request.body ?? null,
        signal: request.signal,
      });
      return { statusCode: response.statusCode, headers: response.headers, body: response.body };
    } catch (error) {
      if (request.signal.aborted) throw error;
      const code = errorCode(error) ?? errorCode((error as { cause?: unknown }).cause);
      if (code !== undefined && connectionErrorCodes.has(code)) {
        throw new GatewayError('GATEWAY.UPSTREAM_UNREACHABLE', target.name, `Cannot reach ${target.name} at ${origin}: ${code}`, { cause: error });
      }
      const reason = code === undefined ? '' : ` (${code})`;
      throw new GatewayError('GATEWAY.BAD_UPSTREAM_RESPONSE', target.name, `${target.name} at ${origin} sent an invalid answer${reason}`, { cause: error });
    }
  }

  /** Closes pooled connections once in-flight requests finished. */
  close(): Promise<void> {
    return this.agent.close();
  }
}
