import type { IncomingHttpHeaders } from 'node:http';

/**
 * Headers that describe one connection, not the message (RFC 9110 §7.6.1), so a proxy must not
 * forward them; `proxy-connection` is a non-standard one old clients still send.
 */
const hopByHopHeaders = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

type HeaderValue = string | string[] | undefined;

/** Header names the `Connection` header lists for this hop (lower case); usually none. */
function connectionNamed(headers: Record<string, HeaderValue>): ReadonlySet<string> | undefined {
  const connection = headers['connection'];
  // The usual values name no other header.
  if (connection === undefined || connection === 'keep-alive' || connection === 'close') return undefined;
  const named = [connection].flat().flatMap((value) => value.split(','));
  return new Set(named.map((name) => name.trim().toLowerCase()).filter(Boolean));
}

// Runs twice per proxied request: no per-call sets or arrays beyond the copy it returns.
function withoutConnectionScoped(headers: Record<string, HeaderValue>, alsoDrop: ReadonlySet<string> | undefined): Record<string, string | string[]> {
  const named = connectionNamed(headers);
  const kept: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (hopByHopHeaders.has(lower) || alsoDrop?.has(lower) === true || named?.has(lower) === true) continue;
    kept[name] = value;
  }
  return kept;
}

/** Request headers never forwarded besides hop-by-hop ones: the HTTP client sets its own `Host`; `Expect` is per hop. */
const notForwardedWithBody: ReadonlySet<string> = new Set(['host', 'expect']);
/** …and without a body, no `Content-Length` either. */
const notForwardedWithoutBody: ReadonlySet<string> = new Set(['host', 'expect', 'content-length']);

/** What the gateway knows about the client's hop, for the `X-Forwarded-*` headers. */
export interface ClientHop {
  /** The client's address as the gateway saw it, e.g. `203.0.113.7`. */
  ip: string | undefined;
  /** `http` or `https`. */
  proto: string;
  /** The `Host` the client asked for. */
  host: string | undefined;
}

/** Whether a request carries a body (RFC 9112 §6: it has `Transfer-Encoding` or a non-zero `Content-Length`). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

/**
 * The headers to send upstream: the client's, less hop-by-hop headers, `Host` (the upstream's
 * own is set by the HTTP client) and `Expect`, plus `X-Forwarded-For` (appended to),
 * `X-Forwarded-Proto` and `X-Forwarded-Host`. `X-Request-Id` passes through as set by the
 * request-id middleware. `Content-Length` is kept only when a body is forwarded.
 */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, client: ClientHop, withBody: boolean): Record<string, string | string[]> {
  const headers = withoutConnectionScoped(incoming, withBody ? notForwardedWithBody : notForwardedWithoutBody);
  const prior = incoming['x-forwarded-for'];
  const priorFor = Array.isArray(prior) ? prior.join(', ') : (prior ?? '');
  const forwardedFor = priorFor === '' ? (client.ip ?? '') : client.ip === undefined ? priorFor : `${priorFor}, ${client.ip}`;
  if (forwardedFor !== '') headers['x-forwarded-for'] = forwardedFor;
  headers['x-forwarded-proto'] = client.proto;
  if (client.host !== undefined) headers['x-forwarded-host'] = client.host;
  return headers;
}

/** The upstream's response headers to pass to the client: all but the hop-by-hop ones. */
export function clientResponseHeaders(upstream: Record<string, HeaderValue>): Record<string, string | string[]> {
  return withoutConnectionScoped(upstream, undefined);
}
