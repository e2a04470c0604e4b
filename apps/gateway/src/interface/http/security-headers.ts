import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * helmet's security headers (CSP, HSTS, `X-Content-Type-Options`, `X-Frame-Options`, the
 * cross-origin policies...) with its defaults. They do not vary by request, so helmet runs once
 * against a recording response and each request then gets the recorded headers in one loop,
 * instead of a dozen middleware calls on the proxy's hot path. Should helmet ever not finish
 * synchronously, it simply runs per request.
 */
export function securityHeaders(): RequestHandler {
  const middleware = helmet();
  const recorded: Array<[string, string | number | readonly string[]]> = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      recorded.push([name, value]);
      return recorder;
    },
    removeHeader: () => undefined,
    getHeader: () => undefined,
  };
  let finished = false;
  middleware({ headers: {}, method: 'GET', url: '/' } as IncomingMessage, recorder as unknown as ServerResponse, () => {
    finished = true;
  });
  if (!finished) return middleware as unknown as RequestHandler;
  return (_req, res, next) => {
    for (const [name, value] of recorded) res.setHeader(name, value);
    next();
  };
}
