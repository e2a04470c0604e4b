/**
 * A bare reverse proxy: the floor under the gateway's cost in `npm run bench:gateway`. It forwards
 * every request to one upstream origin over undici's pooled keep-alive connections (as the
 * gateway does) and streams the answer back, and does nothing else: no discovery, breakers,
 * bulkhead, retries, authentication, rate limiting, security headers, access log or metrics. The
 * gap between it and the gateway is what those features cost; the gap between it and the direct
 * calls is what one more hop costs on this machine.
 *
 * Run by the bench with `fork`: the upstream origin is its one argument, and once it listens (on
 * an ephemeral port of 127.0.0.1) it sends `{ port }` to its parent.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';

const origin = process.argv[2];
if (origin === undefined) throw new Error('usage: bare-proxy <upstream origin, e.g. http://127.0.0.1:3002>');

/** Connection-scoped headers (RFC 9110 §7.6.1), plus `host`, which undici sets for the upstream. */
const notForwarded = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

function forwardable(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !notForwarded.has(name)) kept[name] = value;
  }
  return kept;
}

const agent = new Agent();
const server = createServer((req, res) => {
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  agent.request({ origin, method: req.method ?? 'GET', path: req.url ?? '/', headers: forwardable(req.headers), body: hasBody ? req : null }).then(
    (answer) => {
      res.writeHead(answer.statusCode, forwardable(answer.headers));
      answer.body.pipe(res);
    },
    () => {
      res.writeHead(502).end();
    },
  );
});
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
// Ends with the bench: it disconnects when done, and the channel closes too if the bench dies.
process.on('disconnect', () => process.exit(0));
