import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { workspaceRoot } from './workspace.js';

/** The repository's Compose file: the full demo, and the infrastructure services the tests can start. */
export const composeFilePath: string = path.join(workspaceRoot, 'docker-compose.yml');

/**
 * Laid over `docker-compose.yml` when testcontainers starts the infrastructure for tests: it
 * publishes Kafka and the databases on the Docker host (the demo publishes neither).
 */
export const testcontainersComposeFilePath: string = path.join(workspaceRoot, 'tools', 'docker', 'compose.testcontainers.yml');

/** The parts of a Compose service this repository reads (the Compose Specification names). */
export interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; target?: string; args?: Record<string, string | number> } | string;
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: Array<string | number | { target: number; published?: string | number; host_ip?: string }>;
  volumes?: Array<string | { type?: string; source?: string; target: string }>;
  depends_on?: string[] | Record<string, { condition?: string; required?: boolean; restart?: boolean }>;
  healthcheck?: { test?: string | string[]; disable?: boolean; interval?: string; timeout?: string; retries?: number; start_period?: string };
  deploy?: { replicas?: number };
  profiles?: string[];
  container_name?: string;
  user?: string;
  stop_grace_period?: string;
}

/** A Compose file as parsed: services and top-level named volumes. */
export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * Parses Compose YAML with `<<` merge keys resolved (the file shares the apps' settings through
 * an `x-app` anchor). `${VAR}` interpolation is left to Compose.
 *
 * @throws Error when the text is not YAML or has no `services` mapping.
 */
export function parseComposeFile(text: string): ComposeFile {
  const parsed = parse(text, { merge: true }) as Partial<ComposeFile> | null;
  if (!parsed || typeof parsed.services !== 'object' || parsed.services === null) throw new Error('a Compose file needs a services mapping');
  return parsed as ComposeFile;
}

/** Reads and parses `file` (default {@link composeFilePath}). */
export function loadComposeFile(file: string = composeFilePath): ComposeFile {
  return parseComposeFile(readFileSync(file, 'utf8'));
}

/** A service's `environment` as a map, whichever of the two Compose spellings (map or `KEY=value` list) it uses. */
export function serviceEnvironment(service: ComposeService): Record<string, string> {
  const environment: Record<string, string> = {};
  if (Array.isArray(service.environment)) {
    for (const entry of service.environment) {
      const separator = entry.indexOf('=');
      if (separator > 0) environment[entry.slice(0, separator)] = entry.slice(separator + 1);
    }
  } else {
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      if (value !== null) environment[key] = String(value);
    }
  }
  return environment;
}

/** The names in a service's `depends_on`, whichever spelling it uses. */
export function serviceDependencies(service: ComposeService): string[] {
  const dependsOn = service.depends_on ?? [];
  return Array.isArray(dependsOn) ? dependsOn : Object.keys(dependsOn);
}

/** Login of a PostgreSQL service, from its image's `POSTGRES_USER`, `POSTGRES_PASSWORD` and `POSTGRES_DB` (with the image's defaults). */
export interface PostgresServiceLogin {
  user: string;
  password: string;
  database: string;
}

/**
 * The login that `docker-compose.yml` gives PostgreSQL service `name`, so the test path connects
 * with exactly what the compose file declares.
 *
 * @throws Error when there is no such service.
 */
export function postgresServiceLogin(compose: ComposeFile, name: string): PostgresServiceLogin {
  const service = compose.services[name];
  if (!service) throw new Error(`docker-compose.yml has no service ${name}`);
  const environment = serviceEnvironment(service);
  const user = environment['POSTGRES_USER'] ?? 'postgres';
  return { user, password: environment['POSTGRES_PASSWORD'] ?? '', database: environment['POSTGRES_DB'] ?? user };
}
