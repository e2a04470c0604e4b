import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

/** A connect-style middleware, as helmet and cors export them: usable in Express and on plain Node requests. */
export type ConnectMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** Response headers recorded once, set on each answer in one loop. */
export type HeaderList = ReadonlyArray<readonly [string, string | number | readonly string[]]>;

/**
 * Runs `middleware` once against a request with `method` and `headers` and a recording response,
 * and returns the headers it set; undefined when it did anything else (did not call `next`
 * synchronously, ended the answer), so the caller must run it per request instead.
 */
export function recordHeaders(middleware: ConnectMiddleware, method: string, headers: IncomingHttpHeaders = {}): HeaderList | undefined {
  const recorded: Array<[string, string | number | readonly string[]]> = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      recorded.push([name, value]);
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
  return finished ? recorded : undefined;
}

/** Sets every header of `list` on `res`. */
export function setHeaders(res: ServerResponse, list: HeaderList): void {
  for (const [name, value] of list) res.setHeader(name, value);
}

/**
 * helmet's security headers (CSP, HSTS, `X-Content-Type-Options`, `X-Frame-Options`, the
 * cross-origin policies...) with its defaults. They do not vary by request, so helmet runs once
 * against a recording response and each request then gets the recorded headers in one loop,
 * instead of a dozen middleware calls on the proxy's hot path. Should helmet ever not finish
 * synchronously, it simply runs per request. Works in Express and on plain Node requests.
 */
export function securityHeaders(): ConnectMiddleware {
  const middleware = helmet() as ConnectMiddleware;
  const recorded = recordHeaders(middleware, 'GET');
  if (recorded === undefined) return middleware;
  return (_req, res, next) => {
    setHeaders(res, recorded);
    next();
  };
}
