import { connect } from 'node:net';
import { Agent, request } from 'undici';
import type { CheckTarget } from '../domain/health-check.value-object.js';
import type { HealthProbe, ProbeResult } from '../application/health-probe.port.js';

/**
 * Active health checks over the network (seed 000's `checkHealth`): HTTP passes on any 2xx
 * answer within the timeout, TCP passes when a connection opens within the timeout.
 */
export class NetworkHealthProbe implements HealthProbe {
  // Its own connection pool, so checks never queue behind other outbound traffic and short
  // keep-alive lets a restarted instance be reached on a fresh socket.
  private readonly agent = new Agent({ keepAliveTimeout: 1_000, connect: { timeout: 10_000 } });

  async probe(target: CheckTarget, timeoutMs: number): Promise<ProbeResult> {
    try {
      return target.kind === 'http' ? await this.probeHttp(target.url, timeoutMs) : await probeTcp(target.host, target.port, timeoutMs);
    } catch (error) {
      return { passed: false, output: describeError(error, timeoutMs) };
    }
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  private async probeHttp(url: string, timeoutMs: number): Promise<ProbeResult> {
    const { statusCode, body } = await request(url, {
      method: 'GET',
      dispatcher: this.agent,
      headers: { 'user-agent': 'msr-registry-health-check' },
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    await body.dump();
    return statusCode >= 200 && statusCode < 300 ? { passed: true } : { passed: false, output: `HTTP ${statusCode}` };
  }
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (result: ProbeResult) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => finish({ passed: false, output: `timed out after ${timeoutMs} ms` }));
    socket.once('connect', () => finish({ passed: true }));
    socket.once('error', (error) => finish({ passed: false, output: error.message }));
  });
}

function describeError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'HeadersTimeoutError')) return `timed out after ${timeoutMs} ms`;
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}
