import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { apiSecurityHeaderOptions, securityHeaders } from './security-headers.js';

async function headersFrom(middleware: RequestHandler): Promise<Record<string, unknown>> {
  const app = express();
  app.disable('x-powered-by');
  app.use(middleware);
  app.get('/', (_req, res) => res.json({}));
  const server = createServer(app).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const response = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await response.body.text();
    const { date: _date, ...headers } = response.headers;
    return headers;
  } finally {
    server.close();
  }
}

describe('securityHeaders', () => {
  it('sets exactly the headers helmet sets', async () => {
    const ours = await headersFrom(securityHeaders());
    expect(ours).toEqual(await headersFrom(helmet() as unknown as RequestHandler));
    expect(ours['strict-transport-security']).toMatch(/max-age=/);
  });

  it('sets exactly what helmet sets with the API options: the headers an API answer needs, none made for documents', async () => {
    const ours = await headersFrom(securityHeaders(apiSecurityHeaderOptions));
    expect(ours).toEqual(await headersFrom(helmet(apiSecurityHeaderOptions) as unknown as RequestHandler));
    expect(ours).toMatchObject({
      'content-security-policy': "default-src 'none';frame-ancestors 'none'",
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'cross-origin-resource-policy': 'same-origin',
    });
    expect(ours['strict-transport-security']).toMatch(/max-age=/);
    for (const documentOnly of ['cross-origin-opener-policy', 'origin-agent-cluster', 'referrer-policy', 'x-dns-prefetch-control', 'x-download-options', 'x-permitted-cross-domain-policies', 'x-xss-protection']) {
      expect(ours[documentOnly]).toBeUndefined();
    }
  });
});
