import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { Cancellation } from './cancellation.js';

describe('Cancellation', () => {
  it('is its own signal, and aborts once: later aborts keep the first reason and emit nothing', () => {
    const cancellation = new Cancellation();
    const heard: unknown[] = [];
    cancellation.on('abort', () => heard.push(cancellation.reason));
    expect(cancellation.signal).toBe(cancellation);
    expect(cancellation.aborted).toBe(false);

    const first = new Error('client gone');
    cancellation.abort(first);
    cancellation.abort(new Error('timeout'));
    expect(cancellation.aborted).toBe(true);
    expect(heard).toEqual([first]);
  });

  it('aborts with an AbortError when given no reason, as AbortController does', () => {
    const cancellation = new Cancellation();
    cancellation.abort();
    expect(cancellation.reason).toBeInstanceOf(DOMException);
    expect((cancellation.reason as DOMException).name).toBe('AbortError');
  });

  describe('as the signal of an undici request', () => {
    const agent = new Agent();
    const server = createServer(() => {
      // Never answers: only the abort can end the request.
    });
    afterEach(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it('aborts the request in flight with its reason and closes the connection', async () => {
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const arrived = once(server, 'request') as Promise<[IncomingMessage]>;
      const cancellation = new Cancellation();
      const pending = agent.request({ origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, path: '/', method: 'GET', signal: cancellation });
      const [upstreamRequest] = await arrived;
      const closed = once(upstreamRequest.socket, 'close');

      const reason = new Error('the breaker timed out');
      cancellation.abort(reason);
      await expect(pending).rejects.toBe(reason);
      await closed;
      expect(cancellation.listenerCount('abort')).toBe(0);
    });

    it('leaves no listener behind once the answer was read', async () => {
      const answering = createServer((_req, res) => res.end('ok'));
      answering.listen(0, '127.0.0.1');
      await once(answering, 'listening');
      try {
        const cancellation = new Cancellation();
        const response = await agent.request({ origin: `http://127.0.0.1:${(answering.address() as AddressInfo).port}`, path: '/', method: 'GET', signal: cancellation });
        await response.body.text();
        // undici unsubscribes when the body closes, just after its end.
        if (!response.body.closed) await once(response.body, 'close');
        expect(cancellation.listenerCount('abort')).toBe(0);
      } finally {
        answering.closeAllConnections();
        await new Promise((resolve) => answering.close(resolve));
      }
    });
  });
});
