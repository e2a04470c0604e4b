// HEALTHCHECK of every app image (Dockerfile, docker-compose.yml): exits 0 when the app answers
// GET /health with 2xx within 2 s, 1 otherwise. Plain JavaScript with no dependencies, because
// the image holds only the bundled app and its production packages.
//
// The app listens on PORT; when PORT is not set it uses its own default, which only the app's
// config schema knows, so the defaults are repeated here by APP (the image's build argument).
// tools/docker/src/healthcheck.spec.ts fails when they drift from the schemas.
/* global process, fetch, AbortSignal, console */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** @type {Readonly<Record<string, number>>} Default PORT of each app, as in apps/<app>/src/config.ts. */
export const defaultPorts = { registry: 8500, gateway: 8080, 'user-service': 3001, 'order-service': 3002, 'payment-service': 3003 };

/**
 * The URL to probe: PORT when set, else the default port of APP.
 *
 * @param {Record<string, string | undefined>} env
 * @returns {string}
 */
export function healthUrl(env) {
  const port = env.PORT || defaultPorts[env.APP ?? ''];
  if (!port) throw new Error(`healthcheck: set PORT (or APP to one of ${Object.keys(defaultPorts).join(', ')})`);
  return `http://127.0.0.1:${port}/health`;
}

/**
 * One probe: 2xx within `timeoutMs` means healthy (503 while starting or draining means not).
 *
 * @param {string} url
 * @param {number} timeoutMs
 * @returns {Promise<boolean>}
 */
export async function isHealthy(url, timeoutMs) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

// Run as a program (the HEALTHCHECK), not when a test imports the module.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = (await isHealthy(healthUrl(process.env), 2_000)) ? 0 : 1;
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
