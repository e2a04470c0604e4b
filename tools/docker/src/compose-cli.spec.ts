import { execFile } from 'node:child_process';
import path from 'node:path';
import { composeFilePath, composeUpPlan, kafkaHostListenerPort, parseComposeFile, serviceEnvironment, testcontainersComposeFilePath, workspaceRoot, type ComposeService } from '@msr/infra';
import { describe, expect, it, type TestContext } from 'vitest';

// Compose itself must accept the files: `docker-compose config -q` parses, validates and
// interpolates them without a Docker engine. Debian's `docker-compose` package (Compose v1.29) or
// the Compose v2 plugin will do; every one installed is run. Without either the check cannot run:
// under CI that fails, elsewhere the test is reported as skipped with the reason.

interface ComposeTool {
  name: string;
  command: string;
  args: string[];
}

function run(command: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: workspaceRoot, env: { ...process.env, ...env }, maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 127) : 0, stdout, stderr }),
    );
  });
}

async function installedTools(): Promise<ComposeTool[]> {
  const tools: ComposeTool[] = [];
  if ((await run('docker', ['compose', 'version'])).code === 0) tools.push({ name: 'docker compose', command: 'docker', args: ['compose'] });
  if ((await run('docker-compose', ['version'])).code === 0) tools.push({ name: 'docker-compose', command: 'docker-compose', args: [] });
  return tools;
}

const tools = await installedTools();

let warned = false;

function requireTools(context: TestContext): void {
  if (tools.length > 0) return;
  const install = 'install Debian’s docker-compose package (apt-get install docker-compose) or the Docker Compose v2 plugin';
  if (process.env['CI']) throw new Error(`CI must check the compose files with Compose itself: ${install}`);
  const reason = `no Compose CLI on this machine; ${install} to run this check`;
  // The reporter only counts skips; say once, on stderr, which check did not run and why.
  if (!warned) console.warn(`compose files NOT checked by Compose: ${reason}`);
  warned = true;
  context.skip(reason);
}

const files = (...paths: string[]) => paths.flatMap((file) => ['-f', path.relative(workspaceRoot, file)]);

describe('Compose accepts the compose files (docker-compose config)', () => {
  it('docker-compose.yml, with and without the demo profile', async (context) => {
    requireTools(context);
    for (const tool of tools) {
      for (const profile of [[], ['--profile', 'demo']]) {
        const result = await run(tool.command, [...tool.args, ...files(composeFilePath), ...profile, 'config', '-q']);
        expect({ tool: tool.name, profile, ...result }).toEqual({ tool: tool.name, profile, code: 0, stdout: '', stderr: '' });
      }
    }
  });

  it('docker-compose.yml with compose.testcontainers.yml, interpolated as tools/infra does', async (context) => {
    requireTools(context);
    const plan = composeUpPlan({ postgres: true, kafka: true, advertisedHost: '127.0.0.1', kafkaHostPort: 45123 });
    expect(plan.files.map((file) => path.join(workspaceRoot, file))).toEqual([composeFilePath, testcontainersComposeFilePath]);
    for (const tool of tools) {
      const result = await run(tool.command, [...tool.args, ...plan.files.flatMap((file) => ['-f', file]), 'config'], plan.environment);
      expect({ tool: tool.name, code: result.code, stderr: result.stderr }).toEqual({ tool: tool.name, code: 0, stderr: '' });
      const merged = parseComposeFile(result.stdout);
      const kafka = merged.services['kafka'] as ComposeService;
      expect(serviceEnvironment(kafka)['KAFKA_ADVERTISED_LISTENERS']).toBe('PLAINTEXT://kafka:9092,HOST://127.0.0.1:45123');
      expect(serviceEnvironment(kafka)['KAFKA_LOG_DIRS']).toBe('/var/lib/kafka/data');
      const kafkaPorts = (kafka.ports ?? []).map((port) => (typeof port === 'object' ? `${port.host_ip}:${port.published}:${port.target}` : String(port).replace(/\/tcp$/, '')));
      expect(kafkaPorts).toEqual([`127.0.0.1:45123:${kafkaHostListenerPort}`]);
      for (const service of plan.services) expect(merged.services[service]?.healthcheck?.test, `${service} healthcheck`).toBeDefined();
    }
  });

  it('refuses compose.testcontainers.yml without the Kafka port tools/infra sets', async (context) => {
    requireTools(context);
    for (const tool of tools) {
      const result = await run(tool.command, [...tool.args, ...files(composeFilePath, testcontainersComposeFilePath), 'config', '-q'], { MSR_TC_KAFKA_PORT: '' });
      expect(result.code, tool.name).not.toBe(0);
      expect(result.stderr, tool.name).toContain('set by tools/infra');
    }
  });
});
