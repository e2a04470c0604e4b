import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadComposeFile, parseComposeFile, postgresServiceLogin, serviceDependencies, serviceEnvironment } from './compose-file.js';
import { composeUpPlan, databaseServices, freePort, kafkaService, postgresUrl } from './compose-infrastructure.js';

describe('composeUpPlan', () => {
  it('starts Kafka and the three database servers from both files, waiting for each to be healthy', () => {
    expect(composeUpPlan({ postgres: true, kafka: true, advertisedHost: '127.0.0.1', kafkaHostPort: 40001 })).toEqual({
      files: ['docker-compose.yml', 'tools/docker/compose.testcontainers.yml'],
      services: ['kafka', 'users-db', 'orders-db', 'payments-db'],
      environment: { MSR_TC_BIND_ADDRESS: '127.0.0.1', MSR_TC_KAFKA_HOST: '127.0.0.1', MSR_TC_KAFKA_PORT: '40001' },
      healthyContainers: ['kafka-1', 'users-db-1', 'orders-db-1', 'payments-db-1'],
    });
  });

  it('starts only what is missing', () => {
    expect(composeUpPlan({ postgres: false, kafka: true, advertisedHost: '127.0.0.1', kafkaHostPort: 1 }).services).toEqual(['kafka']);
    expect(composeUpPlan({ postgres: true, kafka: false, advertisedHost: '127.0.0.1', kafkaHostPort: 1 }).services).toEqual(['users-db', 'orders-db', 'payments-db']);
  });

  it('publishes on every interface only for a remote Docker host, which clients reach from outside', () => {
    expect(composeUpPlan({ postgres: true, kafka: true, advertisedHost: '10.0.0.5', kafkaHostPort: 40001 }).environment).toEqual({
      MSR_TC_BIND_ADDRESS: '0.0.0.0',
      MSR_TC_KAFKA_HOST: '10.0.0.5',
      MSR_TC_KAFKA_PORT: '40001',
    });
  });

  it('names services that docker-compose.yml has, each with a healthcheck to wait for', () => {
    const compose = loadComposeFile();
    for (const service of composeUpPlan({ postgres: true, kafka: true, advertisedHost: '127.0.0.1', kafkaHostPort: 1 }).services) {
      expect(compose.services[service]?.healthcheck?.test, service).toBeDefined();
    }
    expect(compose.services[kafkaService]?.image).toMatch(/^apache\/kafka:/);
  });
});

describe('postgresUrl', () => {
  it('connects with the login the compose file gives the server', () => {
    const url = postgresUrl(loadComposeFile(), databaseServices.orders, '127.0.0.1', 55432);
    const login = postgresServiceLogin(loadComposeFile(), databaseServices.orders);
    expect(url).toBe(`postgres://${login.user}:${login.password}@127.0.0.1:55432/orders`);
  });

  it('escapes what a URL cannot carry as it is', () => {
    const compose = parseComposeFile('services:\n  db:\n    environment:\n      POSTGRES_USER: "a@b"\n      POSTGRES_PASSWORD: "p:w/ d"\n');
    const url = new URL(postgresUrl(compose, 'db', '127.0.0.1', 5432));
    expect([decodeURIComponent(url.username), decodeURIComponent(url.password), url.pathname]).toEqual(['a@b', 'p:w/ d', '/a%40b']);
  });
});

describe('compose file helpers', () => {
  const compose = parseComposeFile(`
x-base: &base
  restart: always
  environment: &env
    A: "1"
services:
  listed:
    <<: *base
    environment: ["A=1", "B=x=y", "EMPTY="]
    depends_on: [other]
  mapped:
    <<: *base
    environment:
      <<: *env
      B: 2
      C: null
    depends_on:
      other: { condition: service_healthy }
  other:
    image: postgres:15
`);

  it('resolves merge keys and reads both spellings of environment and depends_on', () => {
    expect(compose.services['mapped']).toMatchObject({ restart: 'always' });
    expect(serviceEnvironment(compose.services['listed']!)).toEqual({ A: '1', B: 'x=y', EMPTY: '' });
    expect(serviceEnvironment(compose.services['mapped']!)).toEqual({ A: '1', B: '2' });
    expect(serviceDependencies(compose.services['listed']!)).toEqual(['other']);
    expect(serviceDependencies(compose.services['mapped']!)).toEqual(['other']);
  });

  it('applies the postgres image’s defaults to a login the file leaves out', () => {
    expect(postgresServiceLogin(compose, 'other')).toEqual({ user: 'postgres', password: '', database: 'postgres' });
    expect(() => postgresServiceLogin(compose, 'missing')).toThrow('docker-compose.yml has no service missing');
  });

  it('rejects YAML without services', () => {
    expect(() => parseComposeFile('volumes: {}\n')).toThrow('a Compose file needs a services mapping');
  });
});

describe('freePort', () => {
  it('returns a port nothing listens on, so a listener can take it', async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, resolve);
    });
    expect((server.address() as AddressInfo).port).toBe(port);
    await new Promise((resolve) => server.close(resolve));
  });
});
