import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectComposeCli, dockerEndpointCandidates, pingDocker, probeDockerEngine, type CommandRunner, type DockerLookup } from './docker-engine.js';

function lookup(overrides: Partial<DockerLookup> & { files?: Record<string, string>; sockets?: string[] } = {}): DockerLookup {
  const sockets = new Set(overrides.sockets ?? []);
  return {
    env: overrides.env ?? {},
    homeDir: overrides.homeDir ?? '/home/dev',
    uid: overrides.uid ?? 1000,
    exists: overrides.exists ?? ((file) => sockets.has(file)),
    readFile: overrides.readFile ?? ((file) => overrides.files?.[file]),
  };
}

describe('dockerEndpointCandidates', () => {
  it('finds nothing on a machine without a socket or DOCKER_HOST', () => {
    expect(dockerEndpointCandidates(lookup())).toEqual([]);
  });

  it('puts DOCKER_HOST first, with its TLS files, then the sockets that exist', () => {
    const candidates = dockerEndpointCandidates(
      lookup({ env: { DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' }, sockets: ['/var/run/docker.sock', '/run/user/1000/docker.sock'] }),
    );
    expect(candidates).toEqual([
      { uri: 'tcp://10.0.0.5:2376', source: 'DOCKER_HOST', tls: { ca: '/certs/ca.pem', cert: '/certs/cert.pem', key: '/certs/key.pem' } },
      { uri: 'unix:///var/run/docker.sock', source: 'default socket' },
      { uri: 'unix:///run/user/1000/docker.sock', source: 'rootless socket' },
    ]);
  });

  it('reads docker.host from ~/.testcontainers.properties when DOCKER_HOST is unset', () => {
    const candidates = dockerEndpointCandidates(lookup({ files: { '/home/dev/.testcontainers.properties': '# tc\ndocker.host=tcp://docker.internal:2375\n' } }));
    expect(candidates).toEqual([{ uri: 'tcp://docker.internal:2375', source: '~/.testcontainers.properties' }]);
  });

  it('leaves out a DOCKER_HOST socket that does not exist, and lists a socket once', () => {
    expect(dockerEndpointCandidates(lookup({ env: { DOCKER_HOST: 'unix:///gone.sock' } }))).toEqual([]);
    const candidates = dockerEndpointCandidates(lookup({ env: { DOCKER_HOST: 'unix:///var/run/docker.sock' }, sockets: ['/var/run/docker.sock'] }));
    expect(candidates.map((candidate) => candidate.uri)).toEqual(['unix:///var/run/docker.sock']);
  });

  it('knows the rootless and Docker Desktop sockets', () => {
    const candidates = dockerEndpointCandidates(
      lookup({ env: { XDG_RUNTIME_DIR: '/run/user/1000' }, sockets: ['/run/user/1000/docker.sock', '/home/dev/.docker/run/docker.sock', '/home/dev/.docker/desktop/docker.sock'] }),
    );
    expect(candidates.map((candidate) => `${candidate.uri} ${candidate.source}`)).toEqual([
      'unix:///run/user/1000/docker.sock rootless socket',
      'unix:///home/dev/.docker/run/docker.sock Docker Desktop socket',
      'unix:///home/dev/.docker/desktop/docker.sock Docker Desktop socket',
    ]);
  });
});

describe('pingDocker and probeDockerEngine against real sockets', () => {
  let dir: string;
  let answering: string;
  let silent: string;
  let wrongAnswer: string;
  let refused: string;
  const servers: Array<http.Server | net.Server> = [];
  const sockets: net.Socket[] = [];
  let tcpPort: number;
  const engine = () => http.createServer((request, response) => response.end(request.url === '/_ping' ? 'OK' : 'no'));

  const listen = (server: http.Server | net.Server, where: string | number) =>
    new Promise<void>((resolve) => {
      servers.push(server);
      if (typeof where === 'string') server.listen(where, resolve);
      else server.listen(where, '127.0.0.1', resolve);
    });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'msr-docker-probe-'));
    answering = path.join(dir, 'answering.sock');
    silent = path.join(dir, 'silent.sock');
    wrongAnswer = path.join(dir, 'wrong.sock');
    refused = path.join(dir, 'refused.sock');
    await listen(engine(), answering);
    // Accepts connections and never answers: an engine that is present but hung.
    await listen(
      net.createServer((socket) => sockets.push(socket)),
      silent,
    );
    await listen(
      http.createServer((_request, response) => {
        response.statusCode = 404;
        response.end('page not found');
      }),
      wrongAnswer,
    );
    // A socket file with nothing listening: what a stopped engine leaves behind.
    await writeFile(refused, '');
    const tcp = engine();
    await listen(tcp, 0);
    tcpPort = (tcp.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.destroy());
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    await rm(dir, { recursive: true, force: true });
  });

  it('reports an engine that answers /_ping with OK, over a unix socket and over TCP', async () => {
    await expect(pingDocker({ uri: `unix://${answering}`, source: 'test' }, 1_000)).resolves.toBe(true);
    await expect(pingDocker({ uri: `tcp://127.0.0.1:${tcpPort}`, source: 'test' }, 1_000)).resolves.toBe(true);
  });

  it('gives up on an engine that accepts but does not answer, within the timeout', async () => {
    const started = Date.now();
    await expect(pingDocker({ uri: `unix://${silent}`, source: 'test' }, 300)).resolves.toBe('did not answer /_ping within 300 ms');
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('does not take something else for an engine, nor a socket nobody listens on', async () => {
    await expect(pingDocker({ uri: `unix://${wrongAnswer}`, source: 'test' }, 1_000)).resolves.toBe('answered /_ping with 404 "page not found"');
    await expect(pingDocker({ uri: `unix://${refused}`, source: 'test' }, 1_000)).resolves.toBe('ECONNREFUSED');
    await expect(pingDocker({ uri: 'npipe:////./pipe/docker_engine', source: 'test' }, 1_000)).resolves.toMatch(/unsupported Docker endpoint/);
  });

  it('treats a present but silent engine as absent, fast, and says why', async () => {
    const started = Date.now();
    const result = await probeDockerEngine({ lookup: lookup({ env: { DOCKER_HOST: `unix://${silent}` }, sockets: [silent] }), timeoutMs: 300 });
    expect(result).toEqual({ available: false, reason: `unix://${silent} (DOCKER_HOST): did not answer /_ping within 300 ms` });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('asks every candidate at once and takes the first in order that answers', async () => {
    const rootless = path.join(dir, 'docker.sock');
    await listen(engine(), rootless);
    const started = Date.now();
    const machine = lookup({ env: { DOCKER_HOST: `unix://${silent}`, XDG_RUNTIME_DIR: dir }, sockets: [silent, rootless] });
    const result = await probeDockerEngine({ lookup: machine, timeoutMs: 300 });
    expect(result).toEqual({ available: true, endpoint: { uri: `unix://${rootless}`, source: 'rootless socket' } });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('says when there is nothing to ask', async () => {
    await expect(probeDockerEngine({ lookup: lookup() })).resolves.toEqual({ available: false, reason: 'no Docker engine socket or DOCKER_HOST found' });
  });
});

describe('detectComposeCli', () => {
  const runner =
    (answers: Record<string, string | Error>): CommandRunner =>
    async (command, args) => {
      const answer = answers[`${command} ${args.join(' ')}`] ?? Object.assign(new Error('spawn ENOENT'), { code: 'ENOENT' });
      if (answer instanceof Error) throw answer;
      return answer;
    };

  it('prefers the docker compose plugin', async () => {
    await expect(detectComposeCli(runner({ 'docker compose version --short': 'v2.29.1\n' }))).resolves.toEqual({ kind: 'plugin', version: '2.29.1' });
  });

  it('falls back to a standalone docker-compose of version 2', async () => {
    await expect(detectComposeCli(runner({ 'docker-compose version --short': '2.24.0\n' }))).resolves.toEqual({ kind: 'standalone', version: '2.24.0' });
  });

  it('does not accept Compose v1, and names what it tried', async () => {
    const notInstalledPlugin = Object.assign(new Error("docker: 'compose' is not a docker command"), { stderr: "docker: unknown command: docker compose\n" });
    const result = await detectComposeCli(runner({ 'docker compose version --short': notInstalledPlugin, 'docker-compose version --short': '1.29.2\n' }));
    expect(result).toBe('docker compose version --short: docker: unknown command: docker compose; docker-compose version --short: version 1.29.2 is not Compose v2');
  });

  it('reports missing tools as not installed', async () => {
    await expect(detectComposeCli(runner({}))).resolves.toBe('docker compose version --short: not installed; docker-compose version --short: not installed');
  });
});
