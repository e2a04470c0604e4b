import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/** A connect-style middleware, as helmet and cors export them: usable in Express and on plain Node requests. */
export type ConnectMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** Response headers as `writeHead` takes them: names (in lower case) and values, alternating. */
export type HeaderList = readonly OutgoingHttpHeader[];

/** Where headers of an answer are set: the response itself, or a list kept for it until it is written. */
export interface HeaderSink {
  setHeader(name: string, value: string | number | readonly string[]): unknown;
}

/**
 * Headers kept for an answer not written yet, to go out with `writeHead(status, list)` in one
 * call: cheaper than one `setHeader` each, which validates, lower-cases and stores every header
 * before Node validates it again when writing. Used by the proxy's hot path.
 */
export class PendingHeaders implements HeaderSink {
  /** Names (in lower case) and values, alternating, as `writeHead` takes them ({@link HeaderList}). */
  readonly list: OutgoingHttpHeader[] = [];

  setHeader(name: string, value: string | number | readonly string[]): this {
    this.list.push(name.toLowerCase(), value as OutgoingHttpHeader);
    return this;
  }
}

/**
 * Runs `middleware` once against a request with `method` and `headers` and a recording response,
 * and returns the headers it set; undefined when it did anything else (did not call `next`
 * synchronously, ended the answer), so the caller must run it per request instead.
 */
export function recordHeaders(middleware: ConnectMiddleware, method: string, headers: IncomingHttpHeaders = {}): HeaderList | undefined {
  const recorded = new PendingHeaders();
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      recorded.setHeader(name, value);
      return recorder;
    },
    removeHeader: () => undefined,
    getHeader: () => undefined,
    end: () => undefined,
  };
  let finished = false;
  middleware({ headers, method, url: '/' } as IncomingMessage, recorder as unknown as ServerResponse, (error) => {
    finished = error === undefined;
  });
  return finished ? recorded.list : undefined;
}

/** Sets every header of `list` on `res`, e.g. for an answer not written with `writeHead(status, list)`. */
export function setHeaders(res: ServerResponse, list: HeaderList): void {
  for (let index = 0; index < list.length; index += 2) res.setHeader(list[index] as string, list[index + 1] as OutgoingHttpHeader);
}

/**
 * helmet's options for API answers (JSON, problem+json), after the OWASP REST Security Cheat
 * Sheet's "Security headers": a CSP that allows nothing and no framing (`default-src 'none';
 * frame-ancestors 'none'`), `X-Frame-Options: DENY`, HSTS, `X-Content-Type-Options: nosniff`
 * and `Cross-Origin-Resource-Policy`. helmet's other defaults only mean something to an HTML
 * document a browser renders (its script and style sources, opener policy, origin-agent
 * cluster, referrer policy, DNS prefetching, IE's download options, Flash's cross-domain
 * policies, the retired XSS auditor): on every API answer they are bytes for each client to
 * read and nothing to enforce.
 */
export const apiSecurityHeaderOptions: Readonly<HelmetOptions> = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  referrerPolicy: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xFrameOptions: { action: 'deny' },
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
};

/**
 * helmet's security headers (CSP, HSTS, `X-Content-Type-Options`, `X-Frame-Options`, the
 * cross-origin policies...): its defaults, made for HTML documents such as `/docs`, or `options`
 * (e.g. {@link apiSecurityHeaderOptions} for the proxied API). They do not vary by request, so
 * helmet runs once against a recording response and each request then gets the recorded headers
 * in one loop, instead of a dozen middleware calls on the proxy's hot path. Should helmet ever
 * not finish synchronously, it simply runs per request. Works in Express and on plain Node requests.
 */
export function securityHeaders(options?: Readonly<HelmetOptions>): ConnectMiddleware {
  const middleware = helmet(options) as ConnectMiddleware;
  const recorded = recordHeaders(middleware, 'GET');
  if (recorded === undefined) return middleware;
  return (_req, res, next) => {
    setHeaders(res, recorded);
    next();
  };
}
