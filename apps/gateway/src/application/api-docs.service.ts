import type { Readable } from 'node:stream';
import { GatewayError } from '../domain/gateway.errors.js';
import { entryFor, groupByPrefix, type GatewayRoute, type PrefixRoutes } from '../domain/route-table.js';
import { Cancellation } from './cancellation.js';
import type { ResilientForwarder } from './resilient-forwarder.js';

/** An OpenAPI 3 document as JSON. */
export type OpenApiDocument = Record<string, unknown> & { paths?: Record<string, Record<string, unknown>> };

/** Who may call one operation through the gateway. */
export type OperationAccess = { kind: 'public' } | { kind: 'token'; scope?: string } | { kind: 'not_routed' };

/** One operation of a service as the gateway exposes it. */
export interface PublicOperation {
  method: string;
  /** The service's own path, e.g. `/users/{id}`. */
  servicePath: string;
  /** The path through the gateway, e.g. `/api/users/{id}`; undefined when no route reaches it. */
  publicPath: string | undefined;
  summary: string | undefined;
  access: OperationAccess;
}

/** A service's documentation, or why it could not be fetched. */
export type ServiceDocs =
  | { service: string; ok: true; title: string; version: string; description: string | undefined; operations: PublicOperation[] }
  | { service: string; ok: false; reason: string };

const operationMethods = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'];
/** An OpenAPI document is small; anything bigger is not one. */
const maxDocumentBytes = 2 * 1024 * 1024;

async function readJson(body: Readable): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > maxDocumentBytes) throw new Error(`document larger than ${maxDocumentBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

/**
 * API-first documentation at the gateway (seed 002): fetches each routed service's OpenAPI 3
 * document from its `GET /openapi.json` through discovery and the same breakers as any request,
 * and restates it as the public sees it: paths through the gateway (`/api/...`), `servers`
 * pointing at the gateway, and which operations need a bearer token and scope.
 */
export class ApiDocsService {
  private readonly prefixes: PrefixRoutes[];

  constructor(
    private readonly forwarder: ResilientForwarder,
    private readonly routes: readonly GatewayRoute[],
  ) {
    this.prefixes = groupByPrefix(routes);
  }

  /** The services the routing table sends requests to, in table order. */
  services(): string[] {
    return [...new Set(this.routes.map((route) => route.service))];
  }

  /**
   * The service's document as the public sees it through the gateway.
   *
   * @throws {GatewayError} when the service cannot be reached (as for any proxied request), or
   *   `BAD_UPSTREAM_RESPONSE` when its answer is not a JSON document.
   */
  async publicDocument(service: string, requestId: string | undefined): Promise<OpenApiDocument> {
    const document = await this.fetchDocument(service, requestId);
    const stripPrefixes = new Set(this.routes.filter((route) => route.service === service).map((route) => route.stripPrefix));
    const paths: Record<string, Record<string, unknown>> = {};
    for (const [path, item] of Object.entries(document.paths ?? {})) {
      const operations: Record<string, unknown> = { ...item };
      for (const method of operationMethods) {
        const operation = item[method] as Record<string, unknown> | undefined;
        if (operation === undefined) continue;
        const access = this.accessOf(service, method.toUpperCase(), path);
        operations[method] =
          access.kind === 'token'
            ? { ...operation, security: [{ bearerAuth: [] }], ...(access.scope === undefined ? {} : { 'x-required-scope': access.scope }) }
            : { ...operation, ...(access.kind === 'not_routed' ? { 'x-not-routed': true } : {}) };
      }
      paths[path] = operations;
    }
    const components = (document['components'] as Record<string, unknown> | undefined) ?? {};
    return {
      ...document,
      // One strip prefix (the usual `/api`) makes the gateway a server of every routed path.
      ...(stripPrefixes.size === 1 ? { servers: [{ url: [...stripPrefixes][0] || '/', description: 'through the API gateway' }] } : {}),
      paths,
      components: {
        ...components,
        securitySchemes: {
          ...(components['securitySchemes'] as Record<string, unknown> | undefined),
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Scopes travel in the space-separated `scope` claim; see `x-required-scope`.' },
        },
      },
    };
  }

  /** Every routed service's operations, each fetched independently: one service down leaves the others listed. */
  async catalog(requestId: string | undefined): Promise<ServiceDocs[]> {
    return Promise.all(
      this.services().map(async (service): Promise<ServiceDocs> => {
        try {
          const document = await this.fetchDocument(service, requestId);
          const info = (document['info'] as Record<string, unknown> | undefined) ?? {};
          return {
            service,
            ok: true,
            title: typeof info['title'] === 'string' ? info['title'] : service,
            version: typeof info['version'] === 'string' ? info['version'] : '',
            description: typeof info['description'] === 'string' ? info['description'] : undefined,
            operations: this.operationsOf(service, document),
          };
        } catch (error) {
          return { service, ok: false, reason: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
  }

  private operationsOf(service: string, document: OpenApiDocument): PublicOperation[] {
    return Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
      operationMethods
        .filter((method) => item[method] !== undefined)
        .map((method) => {
          const summary = (item[method] as Record<string, unknown>)['summary'];
          return {
            method: method.toUpperCase(),
            servicePath: path,
            publicPath: this.publicPathOf(service, method.toUpperCase(), path),
            summary: typeof summary === 'string' ? summary : undefined,
            access: this.accessOf(service, method.toUpperCase(), path),
          };
        }),
    );
  }

  /** The routing-table entry that would serve `method` on the public form of a service path. */
  private routeFor(service: string, method: string, servicePath: string): GatewayRoute | undefined {
    for (const routes of this.prefixes) {
      const route = entryFor(routes, method);
      if (route === undefined || route.service !== service) continue;
      const publicPath = `${route.stripPrefix}${servicePath}`;
      if (publicPath === routes.prefix || publicPath.startsWith(`${routes.prefix}/`)) return route;
    }
    return undefined;
  }

  private publicPathOf(service: string, method: string, servicePath: string): string | undefined {
    const route = this.routeFor(service, method, servicePath);
    return route === undefined ? undefined : `${route.stripPrefix}${servicePath}`;
  }

  private accessOf(service: string, method: string, servicePath: string): OperationAccess {
    const route = this.routeFor(service, method, servicePath);
    if (route === undefined) return { kind: 'not_routed' };
    if (route.public === true) return { kind: 'public' };
    return route.scope === undefined ? { kind: 'token' } : { kind: 'token', scope: route.scope };
  }

  private async fetchDocument(service: string, requestId: string | undefined): Promise<OpenApiDocument> {
    const { response, release } = await this.forwarder.forward({
      service,
      method: 'GET',
      path: '/openapi.json',
      headers: { accept: 'application/json', ...(requestId === undefined ? {} : { 'x-request-id': requestId }) },
      cancel: new Cancellation(),
    });
    try {
      if (response.statusCode !== 200) {
        response.body.resume();
        throw new GatewayError('GATEWAY.BAD_UPSTREAM_RESPONSE', service, `${service} answered ${response.statusCode} to GET /openapi.json`);
      }
      const document = await readJson(response.body).catch((error: unknown) => {
        throw new GatewayError('GATEWAY.BAD_UPSTREAM_RESPONSE', service, `${service} sent an /openapi.json that is not JSON`, { cause: error });
      });
      if (typeof document !== 'object' || document === null || typeof (document as OpenApiDocument)['openapi'] !== 'string') {
        throw new GatewayError('GATEWAY.BAD_UPSTREAM_RESPONSE', service, `${service} sent an /openapi.json that is not an OpenAPI 3 document`);
      }
      return document as OpenApiDocument;
    } finally {
      release();
    }
  }
}
