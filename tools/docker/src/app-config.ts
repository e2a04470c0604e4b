import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { workspaceRoot } from '@msr/infra';
import { z } from 'zod';

/** What the container setup needs to know about one app's environment, read from its own zod schema. */
export interface AppEnvironment {
  /** The schema itself, to parse the environment a container would get. */
  schema: z.ZodObject;
  /** Every variable the app reads. */
  names: string[];
  /** The value each variable takes when it is not set (absent for variables without a default). */
  defaults: Record<string, unknown>;
  /**
   * Variables a container must set: those without a default, and those whose default points at
   * this machine's loopback (`127.0.0.1`, `localhost`), which inside a container is the
   * container itself, not the database, broker or registry.
   */
  requiredInContainer: string[];
}

const loopback = /(^|[^\w.])(127\.\d+\.\d+\.\d+|localhost|\[::1\])([^\w.]|$)/;

/**
 * Loads `configSchema` from `apps/<app>/src/config.ts`, the one definition of an app's
 * environment, so the container files are checked against the code rather than a copy of it.
 * The module is loaded at run time by path: the module-boundary rule keeps tools from importing
 * apps statically, and nothing here becomes part of a build.
 *
 * @throws Error when the module does not export a zod object named `configSchema`.
 */
export async function loadAppEnvironment(app: string): Promise<AppEnvironment> {
  const file = path.join(workspaceRoot, 'apps', app, 'src', 'config.ts');
  const module = (await import(pathToFileURL(file).href)) as { configSchema?: unknown };
  if (!(module.configSchema instanceof z.ZodObject)) throw new Error(`${file} does not export a zod object named configSchema`);
  const schema = module.configSchema;
  const names = Object.keys(schema.shape);
  const defaults: Record<string, unknown> = {};
  const requiredInContainer: string[] = [];
  for (const name of names) {
    const field = schema.shape[name] as z.ZodType;
    const unset = field.safeParse(undefined);
    if (!unset.success) {
      requiredInContainer.push(name);
      continue;
    }
    defaults[name] = unset.data;
    if (unset.data !== undefined && loopback.test(JSON.stringify(unset.data))) requiredInContainer.push(name);
  }
  return { schema, names, defaults, requiredInContainer };
}

/**
 * Every string in a parsed configuration, nested values included (e.g. the gateway's routing
 * table), for finding which other services an app talks to.
 */
export function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}

/**
 * The host a configuration string names, if any: the host of a URL (`http://registry:8500`),
 * of a `host:port` address (`kafka:9092`), or the string itself when it is a bare name that
 * discovery resolves (`user-service`).
 */
export function hostNamedBy(value: string): string | undefined {
  if (/^[a-z][\w+.-]*:\/\//i.test(value)) {
    try {
      return new URL(value).hostname || undefined;
    } catch {
      return undefined;
    }
  }
  const address = /^([\w.-]+):\d+$/.exec(value);
  if (address) return address[1];
  return /^[a-z][\w-]*$/i.test(value) ? value : undefined;
}
