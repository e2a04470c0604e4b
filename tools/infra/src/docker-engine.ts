import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

/**
 * One place a Docker engine may answer: a unix socket or a TCP address (optionally TLS).
 * Found the way testcontainers looks for one, so the engine the probe finds is the engine the
 * container path then uses.
 */
export interface DockerEndpoint {
  /** As Docker writes it: `unix:///var/run/docker.sock`, `tcp://10.0.0.5:2376`. */
  uri: string;
  /** Where the candidate came from, for the log: `DOCKER_HOST`, `~/.testcontainers.properties`, `default socket`, `rootless socket`. */
  source: string;
  /** TLS client files from `DOCKER_CERT_PATH` when `DOCKER_TLS_VERIFY=1` (TCP only). */
  tls?: { ca: string; cert: string; key: string };
}

/** Where {@link dockerEndpointCandidates} looks; injectable so tests never depend on the machine. */
export interface DockerLookup {
  env: Record<string, string | undefined>;
  homeDir: string;
  uid: number;
  exists: (file: string) => boolean;
  readFile: (file: string) => string | undefined;
}

/** The real machine: `process.env`, the user's home folder and uid, the file system. */
export function machineDockerLookup(env: Record<string, string | undefined> = process.env): DockerLookup {
  return {
    env,
    homeDir: os.homedir(),
    uid: typeof process.getuid === 'function' ? process.getuid() : 0,
    exists: existsSync,
    readFile: (file) => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * The Docker endpoints worth asking, in the order testcontainers 11 tries them: `DOCKER_HOST`
 * (else `docker.host` in `~/.testcontainers.properties`), then `/var/run/docker.sock`, then the
 * rootless and Docker Desktop sockets. Unix sockets that do not exist are left out, so a machine
 * without Docker yields an empty list at the cost of a few `stat` calls.
 */
export function dockerEndpointCandidates(lookup: DockerLookup): DockerEndpoint[] {
  const candidates: DockerEndpoint[] = [];
  const properties = parseProperties(lookup.readFile(path.join(lookup.homeDir, '.testcontainers.properties')) ?? '');
  const configured = nonBlank(lookup.env['DOCKER_HOST']) ?? nonBlank(properties['docker.host']);
  if (configured !== undefined) {
    const source = nonBlank(lookup.env['DOCKER_HOST']) !== undefined ? 'DOCKER_HOST' : '~/.testcontainers.properties';
    const tlsVerify = nonBlank(lookup.env['DOCKER_TLS_VERIFY']) ?? nonBlank(properties['docker.tls.verify']);
    const certPath = nonBlank(lookup.env['DOCKER_CERT_PATH']) ?? nonBlank(properties['docker.cert.path']);
    const endpoint: DockerEndpoint = { uri: configured, source };
    if (tlsVerify === '1' && certPath !== undefined) {
      endpoint.tls = { ca: path.join(certPath, 'ca.pem'), cert: path.join(certPath, 'cert.pem'), key: path.join(certPath, 'key.pem') };
    }
    if (!configured.startsWith('unix://') || lookup.exists(configured.slice('unix://'.length))) candidates.push(endpoint);
  }
  const sockets: Array<[string, string]> = [
    ['/var/run/docker.sock', 'default socket'],
    ...(lookup.env['XDG_RUNTIME_DIR'] ? [[path.join(lookup.env['XDG_RUNTIME_DIR'], 'docker.sock'), 'rootless socket'] as [string, string]] : []),
    [path.join(lookup.homeDir, '.docker', 'run', 'docker.sock'), 'Docker Desktop socket'],
    [path.join(lookup.homeDir, '.docker', 'desktop', 'docker.sock'), 'Docker Desktop socket'],
    [path.join('/run', 'user', String(lookup.uid), 'docker.sock'), 'rootless socket'],
  ];
  for (const [socket, source] of sockets) {
    const uri = `unix://${socket}`;
    if (lookup.exists(socket) && !candidates.some((candidate) => candidate.uri === uri)) candidates.push({ uri, source });
  }
  return candidates;
}

/** The answer of {@link probeDockerEngine}. */
export type DockerProbeResult =
  | { available: true; endpoint: DockerEndpoint }
  | {
      available: false;
      /** Why not, for the log: no socket found, or what each candidate did. */
      reason: string;
    };

/**
 * Asks one endpoint `GET /_ping` (the engine answers `OK`). Never throws: false when nothing
 * listens, something else answers, or no answer arrives within `timeoutMs` (an engine that is
 * present but hung must not stall the caller).
 *
 * @returns `true`, or the reason it is not a working engine.
 */
export function pingDocker(endpoint: DockerEndpoint, timeoutMs: number): Promise<true | string> {
  return new Promise((resolve) => {
    let request: http.ClientRequest;
    try {
      request = dockerRequest(endpoint);
    } catch (error) {
      resolve((error as Error).message);
      return;
    }
    let settled = false;
    // Destroying the request makes it emit 'error' too; only the first outcome counts.
    const settle = (result: true | string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => settle(`did not answer /_ping within ${timeoutMs} ms`), timeoutMs);
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => settle(response.statusCode === 200 && body.trim() === 'OK' ? true : `answered /_ping with ${response.statusCode} ${JSON.stringify(body.slice(0, 80))}`));
      response.on('error', (error) => settle(error.message));
    });
    request.on('error', (error: NodeJS.ErrnoException) => settle(error.code ?? error.message));
    request.end();
  });
}

function dockerRequest(endpoint: DockerEndpoint): http.ClientRequest {
  const url = new URL(endpoint.uri);
  const headers = { 'User-Agent': 'msr-infra-probe' };
  switch (url.protocol) {
    case 'unix:':
      return http.request({ socketPath: url.pathname, path: '/_ping', headers });
    case 'tcp:':
    case 'http:':
    case 'https:': {
      const port = Number(url.port || (endpoint.tls ? 2376 : 2375));
      if (!endpoint.tls) return http.request({ host: url.hostname, port, path: '/_ping', headers });
      const tls = { ca: readFileSync(endpoint.tls.ca), cert: readFileSync(endpoint.tls.cert), key: readFileSync(endpoint.tls.key) };
      return https.request({ host: url.hostname, port, path: '/_ping', headers, ...tls });
    }
    default:
      throw new Error(`unsupported Docker endpoint ${endpoint.uri}`);
  }
}

/**
 * Whether a Docker engine answers here, decided in about `timeoutMs` at worst: every candidate
 * of {@link dockerEndpointCandidates} is pinged at once and the first in order that answers
 * wins. A socket file with no engine behind it (refused) or an engine that does not answer in
 * time counts as absent.
 */
export async function probeDockerEngine(options: { lookup?: DockerLookup; timeoutMs?: number } = {}): Promise<DockerProbeResult> {
  const candidates = dockerEndpointCandidates(options.lookup ?? machineDockerLookup());
  if (candidates.length === 0) return { available: false, reason: 'no Docker engine socket or DOCKER_HOST found' };
  const answers = await Promise.all(candidates.map((candidate) => pingDocker(candidate, options.timeoutMs ?? 1_000)));
  const index = answers.findIndex((answer) => answer === true);
  if (index >= 0) return { available: true, endpoint: candidates[index] as DockerEndpoint };
  return { available: false, reason: candidates.map((candidate, i) => `${candidate.uri} (${candidate.source}): ${answers[i]}`).join('; ') };
}

/** How to run Docker Compose v2, which testcontainers' `DockerComposeEnvironment` drives. */
export interface ComposeCli {
  /** `plugin`: `docker compose`; `standalone`: a v2 `docker-compose` binary. */
  kind: 'plugin' | 'standalone';
  version: string;
}

/** Runs a command and resolves with its stdout, or rejects (not found, non-zero exit, timeout). */
export type CommandRunner = (command: string, args: string[], timeoutMs: number) => Promise<string>;

/** {@link CommandRunner} on real processes. */
export const runCommand: CommandRunner = (command, args, timeoutMs) =>
  new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => (error ? reject(Object.assign(error, { stderr })) : resolve(stdout)));
  });

/**
 * Finds Docker Compose v2: the `docker compose` plugin, else a standalone `docker-compose` of
 * version 2 or later. Compose v1 (Python, e.g. Debian's `docker-compose` 1.29) names containers
 * `<project>_<service>_1`, which the testcontainers wait strategies here do not address, so it
 * does not count.
 *
 * @returns the CLI, or the reason there is none.
 */
export async function detectComposeCli(run: CommandRunner = runCommand, timeoutMs = 5_000): Promise<ComposeCli | string> {
  const reasons: string[] = [];
  for (const [kind, command, args] of [
    ['plugin', 'docker', ['compose', 'version', '--short']],
    ['standalone', 'docker-compose', ['version', '--short']],
  ] as const) {
    try {
      const version = (await run(command, [...args], timeoutMs)).trim().replace(/^v/, '');
      const major = Number.parseInt(version, 10);
      if (major >= 2) return { kind, version };
      reasons.push(`${command} ${args.join(' ')}: version ${version || '(none)'} is not Compose v2`);
    } catch (error) {
      reasons.push(`${command} ${args.join(' ')}: ${describeRunError(error)}`);
    }
  }
  return reasons.join('; ');
}

function describeRunError(error: unknown): string {
  const failure = error as NodeJS.ErrnoException & { stderr?: string; killed?: boolean };
  if (failure.code === 'ENOENT') return 'not installed';
  if (failure.killed) return 'timed out';
  return (failure.stderr?.trim().split('\n')[0] || failure.message).slice(0, 160);
}

function nonBlank(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

/** `key=value` lines of a Java properties file (enough for `~/.testcontainers.properties`). */
function parseProperties(text: string): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('!')) continue;
    const separator = trimmed.search(/[=:]/);
    if (separator > 0) properties[trimmed.slice(0, separator).trim()] = trimmed.slice(separator + 1).trim();
  }
  return properties;
}
