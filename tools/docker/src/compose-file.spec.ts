import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  databaseServices,
  kafkaHostListenerPort,
  kafkaService,
  loadComposeFile,
  parseBrokerList,
  postgresServiceLogin,
  serviceDependencies,
  serviceEnvironment,
  testcontainersComposeFilePath,
  workspaceRoot,
  type ComposeService,
} from '@msr/infra';
import { appNames } from '@msr/system';
import { beforeAll, describe, expect, it } from 'vitest';
import { hostNamedBy, loadAppEnvironment, stringsIn, type AppEnvironment } from './app-config.js';

// docker-compose.yml must not drift from the code: every app service is checked against the zod
// schema in its apps/<app>/src/config.ts, and the infrastructure services against what the apps
// and tools/infra expect of them.

const compose = loadComposeFile();
const services = compose.services;
const service = (name: string): ComposeService => {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
};
/** What the image sets before the compose file's environment (Dockerfile `ENV`). */
const imageEnvironment = { HOST: '0.0.0.0', ADVERTISE_HOST: 'auto' };
const dockerfile = readFileSync(path.join(workspaceRoot, 'Dockerfile'), 'utf8');
const schemas = new Map<string, AppEnvironment>();

function durationMs(value: string | undefined): number {
  const match = /^(\d+)(ms|s|m)$/.exec(value ?? '');
  if (!match) return 10_000; // Compose's default stop_grace_period
  return Number(match[1]) * { ms: 1, s: 1_000, m: 60_000 }[match[2] as 'ms' | 's' | 'm'];
}

function publishedPorts(entry: ComposeService): string[] {
  return (entry.ports ?? []).map((port) => (typeof port === 'object' ? `${port.host_ip ?? ''}:${port.published ?? ''}:${port.target}` : String(port)));
}

beforeAll(async () => {
  for (const app of appNames) schemas.set(app, await loadAppEnvironment(app));
});

describe.each([...appNames])('docker-compose.yml service %s', (app) => {
  const entry = () => service(app);
  const schema = () => schemas.get(app) as AppEnvironment;
  const environment = () => serviceEnvironment(entry());
  /** The configuration the app would run with; where the schema rejects a value, the raw strings (that test fails on its own). */
  const containerConfig = (): Record<string, unknown> => {
    const parsed = schema().schema.safeParse({ ...imageEnvironment, ...environment() });
    return parsed.success ? parsed.data : { ...schema().defaults, ...imageEnvironment, ...environment() };
  };

  it('is built from the Dockerfile with APP set to the app', () => {
    const build = entry().build;
    expect(typeof build === 'object' && build.args?.['APP']).toBe(app);
    expect(typeof build === 'object' && (build.dockerfile ?? 'Dockerfile')).toBe('Dockerfile');
    expect(JSON.parse(readFileSync(path.join(workspaceRoot, 'apps', app, 'project.json'), 'utf8')).targets.build).toBeDefined();
  });

  it('sets only variables the app reads', () => {
    expect(Object.keys(environment()).filter((name) => !schema().names.includes(name))).toEqual([]);
  });

  it('sets every variable a container needs: no default, or a default on this machine’s loopback', () => {
    const set = { ...imageEnvironment, ...environment() };
    expect(schema().requiredInContainer.filter((name) => !(name in set))).toEqual([]);
  });

  it('gives values the app’s schema accepts', () => {
    const result = schema().schema.safeParse({ ...imageEnvironment, ...environment() });
    expect(result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)).toEqual([]);
  });

  it('registers the container’s own address when it registers at all', () => {
    if (!schema().names.includes('ADVERTISE_HOST')) return;
    const advertised = environment()['ADVERTISE_HOST'];
    const replicas = entry().deploy?.replicas ?? 1;
    // A service name resolves to any replica; only `auto` names this very container.
    expect(replicas > 1 ? ['auto'] : ['auto', app]).toContain(advertised);
  });

  it('has a healthcheck, and gets time to drain before Docker kills it', () => {
    expect(entry().healthcheck?.test).toEqual(['CMD', 'node', '/usr/local/lib/msr/healthcheck.mjs']);
    expect(entry().healthcheck?.disable).not.toBe(true);
    expect(durationMs(entry().stop_grace_period)).toBeGreaterThan(Number(containerConfig()['SHUTDOWN_TIMEOUT_MS'] ?? 0));
  });

  it('depends, until healthy, on every service it uses, and on nothing that is not a service', () => {
    const used = new Set(
      stringsIn(containerConfig())
        .map(hostNamedBy)
        .filter((host): host is string => host !== undefined && host !== app && host in services),
    );
    const dependsOn = entry().depends_on ?? {};
    expect(serviceDependencies(entry()).sort()).toEqual([...used].sort());
    for (const [dependency, how] of Object.entries(dependsOn)) {
      expect({ dependency, condition: how.condition }).toEqual({ dependency, condition: 'service_healthy' });
      expect(service(dependency).healthcheck?.test, `${dependency} needs a healthcheck`).toBeDefined();
    }
  });
});

describe('docker-compose.yml as a whole', () => {
  it('lists every app, the infrastructure, and the demo, and nothing else', () => {
    expect(Object.keys(services).sort()).toEqual([...appNames, kafkaService, ...Object.values(databaseServices), 'demo'].sort());
  });

  it('publishes only the gateway on 8080 and the registry on 8500, on loopback', () => {
    const published = Object.fromEntries(
      Object.entries(services)
        .map(([name, entry]): [string, string[]] => [name, publishedPorts(entry)])
        .filter(([, ports]) => ports.length > 0),
    );
    expect(published).toEqual({ gateway: ['127.0.0.1:8080:8080'], registry: ['127.0.0.1:8500:8500'] });
    expect(serviceEnvironment(service('gateway'))['PORT']).toBe('8080');
    expect(serviceEnvironment(service('registry'))['PORT']).toBe('8500');
  });

  it('runs user-service twice: replicas that publish nothing and carry no fixed name', () => {
    expect(service('user-service').deploy?.replicas).toBe(2);
    expect(service('user-service').ports).toBeUndefined();
    expect(service('user-service').container_name).toBeUndefined();
  });

  it('has a healthcheck on every long-running service; only the one-shot demo job has none', () => {
    const without = Object.entries(services)
      .filter(([, entry]) => !entry.healthcheck?.test || entry.healthcheck.disable)
      .map(([name]) => name);
    expect(without).toEqual(['demo']);
  });

  it('gives each service its own PostgreSQL server, reached with that server’s own login', () => {
    const servers = appNames
      .map((app) => serviceEnvironment(service(app))['DATABASE_URL'])
      .filter((url): url is string => url !== undefined)
      .map((url) => {
        const parsed = new URL(url);
        const login = postgresServiceLogin(compose, parsed.hostname);
        expect({ user: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password), database: parsed.pathname.slice(1) }).toEqual(login);
        expect(service(parsed.hostname).image).toMatch(/^postgres:15(\b|$)/);
        return parsed.hostname;
      });
    expect(servers.sort()).toEqual(Object.values(databaseServices).sort());
    expect(Object.entries(databaseServices).map(([database, server]) => postgresServiceLogin(compose, server).database === database)).toEqual([true, true, true]);
  });

  it('keeps the data of Kafka and every database in a named volume', () => {
    const mounts: Record<string, string> = {
      [kafkaService]: serviceEnvironment(service(kafkaService))['KAFKA_LOG_DIRS'] ?? '(KAFKA_LOG_DIRS unset)',
      ...Object.fromEntries(Object.values(databaseServices).map((name) => [name, '/var/lib/postgresql/data'])),
    };
    for (const [name, target] of Object.entries(mounts)) {
      const volumes = (service(name).volumes ?? []).map((volume) => (typeof volume === 'string' ? volume : `${volume.source}:${volume.target}`));
      const named = volumes.map((volume) => volume.split(':')).find(([source, mountedAt]) => mountedAt === target && source !== undefined && source in (compose.volumes ?? {}));
      expect(named, `${name} mounts a named volume at ${target}`).toBeDefined();
    }
  });

  it('runs Apache Kafka 3.9 in KRaft mode, advertised at the address the apps use', () => {
    const kafka = service(kafkaService);
    const environment = serviceEnvironment(kafka);
    expect(kafka.image).toMatch(/^apache\/kafka:3\.9(\.\d+)?$/);
    expect(environment['KAFKA_PROCESS_ROLES']?.split(',').sort()).toEqual(['broker', 'controller']);
    expect(environment['KAFKA_CONTROLLER_QUORUM_VOTERS']).toBe(`${environment['KAFKA_NODE_ID']}@kafka:9093`);
    // Like the local broker: topics are declared by the services, never auto-created.
    expect(environment['KAFKA_AUTO_CREATE_TOPICS_ENABLE']).toBe('false');
    const clusterId = environment['CLUSTER_ID'] ?? '';
    expect(Buffer.from(clusterId, 'base64url').toString('base64url')).toBe(clusterId);
    expect(Buffer.from(clusterId, 'base64url')).toHaveLength(16);
    const advertised = environment['KAFKA_ADVERTISED_LISTENERS']?.split(',').map((listener) => listener.replace(/^\w+:\/\//, ''));
    for (const app of appNames) {
      for (const broker of parseBrokerList(serviceEnvironment(service(app))['KAFKA_BROKERS'] ?? '')) expect(advertised).toContain(broker);
    }
  });

  it('runs the demo as a job in the demo profile, from the build stage, against the gateway', () => {
    const demo = service('demo');
    expect(demo.profiles).toEqual(['demo']);
    expect(typeof demo.build === 'object' && demo.build.target).toBe('workspace');
    expect(dockerfile).toMatch(/^FROM \S+ AS workspace$/m);
    expect(demo.command).toEqual(['npm', 'run', 'demo', '--', '--once']);
    const environment = serviceEnvironment(demo);
    expect(environment['GATEWAY_URL']).toBe(`http://gateway:${serviceEnvironment(service('gateway'))['PORT']}`);
    expect(environment['REGISTRY_URL']).toBe(`http://registry:${serviceEnvironment(service('registry'))['PORT']}`);
    expect(demo.depends_on).toEqual({ gateway: { condition: 'service_healthy' }, registry: { condition: 'service_healthy' } });
    expect(demo.user).toBe('node');
  });
});

describe('tools/docker/compose.testcontainers.yml (laid over docker-compose.yml by the test path)', () => {
  const override = loadComposeFile(testcontainersComposeFilePath);

  it('touches only the infrastructure services that tools/infra starts', () => {
    expect(Object.keys(override.services).sort()).toEqual([kafkaService, ...Object.values(databaseServices)].sort());
  });

  it('publishes the databases on any free port and Kafka on a listener that advertises its published port', () => {
    for (const name of Object.values(databaseServices)) expect(publishedPorts(override.services[name] as ComposeService)).toEqual(['${MSR_TC_BIND_ADDRESS:-127.0.0.1}::5432']);
    const kafka = override.services[kafkaService] as ComposeService;
    expect(publishedPorts(kafka)).toEqual([`\${MSR_TC_BIND_ADDRESS:-127.0.0.1}:\${MSR_TC_KAFKA_PORT:?set by tools/infra}:${kafkaHostListenerPort}`]);
    const environment = serviceEnvironment(kafka);
    expect(environment['KAFKA_LISTENERS']).toContain(`HOST://:${kafkaHostListenerPort}`);
    expect(environment['KAFKA_ADVERTISED_LISTENERS']).toContain('HOST://${MSR_TC_KAFKA_HOST:-127.0.0.1}:${MSR_TC_KAFKA_PORT:?set by tools/infra}');
    // The services inside the network keep the listener the base file gives them.
    const base = serviceEnvironment(service(kafkaService));
    expect(environment['KAFKA_LISTENERS']?.startsWith(base['KAFKA_LISTENERS'] ?? '-')).toBe(true);
    expect(environment['KAFKA_ADVERTISED_LISTENERS']?.startsWith(base['KAFKA_ADVERTISED_LISTENERS'] ?? '-')).toBe(true);
    expect(environment['KAFKA_LISTENER_SECURITY_PROTOCOL_MAP']).toBe(`${base['KAFKA_LISTENER_SECURITY_PROTOCOL_MAP']},HOST:PLAINTEXT`);
  });
});
