import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { freePort, workspaceRoot } from '@msr/infra';
import { appNames } from '@msr/system';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPorts, healthUrl } from '../healthcheck.mjs';
import { loadAppEnvironment } from './app-config.js';

const script = path.join(workspaceRoot, 'tools', 'docker', 'healthcheck.mjs');

/** Runs the HEALTHCHECK command as Docker does and resolves with its exit code and the time it took. */
function healthcheck(environment: Record<string, string>): Promise<{ code: number; ms: number; stderr: string }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [script], { env: { PATH: process.env['PATH'] ?? '', ...environment } }, (error, _stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, ms: Date.now() - started, stderr }),
    );
  });
}

describe('healthcheck.mjs', () => {
  let status = 200;
  let hang = false;
  const held: http.ServerResponse[] = [];
  const server = http.createServer((request, response) => {
    if (request.url !== '/health') {
      response.statusCode = 404;
      response.end();
    } else if (hang) held.push(response);
    else {
      response.statusCode = status;
      response.end(JSON.stringify({ status: status === 200 ? 'ok' : 'draining' }));
    }
  });
  let port: number;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    held.forEach((response) => response.destroy());
    await new Promise((resolve) => server.close(resolve));
  });

  it('exits 0 while the app answers /health with 200', async () => {
    status = 200;
    await expect(healthcheck({ PORT: String(port) })).resolves.toMatchObject({ code: 0 });
  });

  it('exits 1 while the app is not ready or draining (503)', async () => {
    status = 503;
    await expect(healthcheck({ PORT: String(port) })).resolves.toMatchObject({ code: 1 });
  });

  it('exits 1 when nothing listens', async () => {
    await expect(healthcheck({ PORT: String(await freePort()) })).resolves.toMatchObject({ code: 1 });
  });

  it('exits 1 within its own 2 s timeout when the app hangs, before Docker’s 3 s', async () => {
    hang = true;
    const result = await healthcheck({ PORT: String(port) });
    hang = false;
    expect(result.code).toBe(1);
    expect(result.ms).toBeLessThan(3_000);
  });

  it('exits 1 and says why when it cannot know the port', async () => {
    const result = await healthcheck({ APP: 'unknown-app' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('healthcheck: set PORT (or APP to one of registry, gateway, user-service, order-service, payment-service)');
  });

  it('without PORT, probes the default port each app’s config schema gives', async () => {
    const expected: Record<string, number> = {};
    for (const app of appNames) expected[app] = Number((await loadAppEnvironment(app)).defaults['PORT']);
    expect(defaultPorts).toEqual(expected);
    expect(healthUrl({ APP: 'order-service' })).toBe(`http://127.0.0.1:${expected['order-service']}/health`);
    expect(healthUrl({ APP: 'order-service', PORT: '4000' })).toBe('http://127.0.0.1:4000/health');
  });
});
