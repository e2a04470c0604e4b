/**
 * One entry of the gateway's routing table (seed 002's `Route`): requests whose path is `prefix`
 * or lies below it, with one of `methods`, go to `service`, with `stripPrefix` cut off the front
 * of the path, if the caller may: `public` entries need no token; the others need a valid bearer
 * token, carrying `scope` when one is named.
 *
 * @example { prefix: '/api/users', methods: ['GET'], service: 'user-service', stripPrefix: '/api', public: true }
 *   // GET /api/users/42?x=1 → user-service GET /users/42?x=1, no token needed
 */
export interface GatewayRoute {
  /** Public path prefix, e.g. `/api/orders`; matches `/api/orders` and `/api/orders/…`, not `/api/ordersx`. */
  prefix: string;
  /** The name the upstream service registers under in the registry, e.g. `order-service`. */
  service: string;
  /** Leading part of the path the upstream does not see, e.g. `/api`; a prefix of `prefix` (or empty). */
  stripPrefix: string;
  /** Upper-case methods this entry serves (`GET` includes `HEAD`); absent: every method no other entry of the prefix lists. */
  methods?: readonly string[];
  /** True when no token is needed. */
  public?: boolean;
  /** The scope a caller's token must carry, e.g. `orders:write`; absent: any valid token will do. */
  scope?: string;
}

/** Every entry of one path prefix: which one serves a request depends on its method. */
export interface PrefixRoutes {
  prefix: string;
  entries: readonly GatewayRoute[];
}

/** Whether `route` serves `method` by listing it (`HEAD` rides on `GET`). */
function lists(route: GatewayRoute, method: string): boolean {
  return route.methods !== undefined && (route.methods.includes(method) || (method === 'HEAD' && route.methods.includes('GET')));
}

/**
 * The entry of a prefix that serves `method`: the one listing it, else the one listing no
 * methods; undefined when none does (405).
 */
export function entryFor(routes: PrefixRoutes, method: string): GatewayRoute | undefined {
  return routes.entries.find((route) => lists(route, method)) ?? routes.entries.find((route) => route.methods === undefined);
}

/** The methods a prefix serves, for the `Allow` header of a 405; `*` when one entry takes every method. */
export function allowedMethods(routes: PrefixRoutes): string[] {
  if (routes.entries.some((route) => route.methods === undefined)) return ['*'];
  const methods = new Set(routes.entries.flatMap((route) => route.methods ?? []));
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods];
}

/**
 * The routing table grouped by prefix, the most specific prefix first so it wins when two
 * overlap (`/api/orders/export` before `/api/orders`).
 */
export function groupByPrefix(routes: readonly GatewayRoute[]): PrefixRoutes[] {
  const groups = new Map<string, GatewayRoute[]>();
  for (const route of routes) groups.set(route.prefix, [...(groups.get(route.prefix) ?? []), route]);
  return byMostSpecific([...groups].map(([prefix, entries]) => ({ prefix, entries })));
}

/**
 * Routes ordered so that the most specific prefix wins when two overlap (`/api/orders/export`
 * before `/api/orders`).
 */
export function byMostSpecific<R extends Pick<GatewayRoute, 'prefix'>>(routes: readonly R[]): R[] {
  return [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
}

/**
 * The path and query the upstream gets for a public URL: `stripPrefix` removed, the query string
 * kept as sent.
 *
 * @param url - the public request target, path plus query, e.g. `/api/users/1?fields=name`.
 * @returns e.g. `/users/1?fields=name`; always starts with `/`.
 */
export function upstreamPath(route: GatewayRoute, url: string): string {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = queryAt === -1 ? '' : url.slice(queryAt);
  // Express matches paths case-insensitively, so the prefix is compared the same way.
  const stripped = path.toLowerCase().startsWith(route.stripPrefix.toLowerCase()) ? path.slice(route.stripPrefix.length) : path;
  return `${stripped.startsWith('/') ? stripped : `/${stripped}`}${query}`;
}

/**
 * The public form of an upstream's `Location` header: a path-absolute location such as
 * `/users/1` gets `stripPrefix` back (`/api/users/1`), so clients can follow it through the
 * gateway (what nginx calls `proxy_redirect`). Absolute URLs and relative references pass unchanged.
 */
export function publicLocation(route: GatewayRoute, location: string): string {
  return location.startsWith('/') && !location.startsWith('//') ? `${route.stripPrefix}${location}` : location;
}
