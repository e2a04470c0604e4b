import { randomUUID } from 'node:crypto';
import type { Logger } from '@msr/service-defaults';
import { request } from 'undici';
import { z } from 'zod';
import { RegistryError } from './errors.js';
import { serviceInstanceListSchema, serviceInstanceSchema, type ServiceInstance } from './service-instance.js';
import { SseParser } from './sse-parser.js';

/** An active check the registry runs against the instance (seed 000's `HealthCheck`). */
export interface HealthCheckOptions {
  /** A full URL such as `http://10.0.0.5:3001/health` (any 2xx passes) or a path such as `/health`. */
  http?: string;
  /** `host:port`: passes when a TCP connection opens. */
  tcp?: string;
  /** Time between checks, in ms. */
  intervalMs: number;
  /** Time one check may take, in ms. */
  timeoutMs: number;
  /** Consecutive failed checks before the instance turns critical; default: the registry's. */
  failuresBeforeCritical?: number;
  /** Consecutive passed checks before a critical instance passes again; default: the registry's. */
  successesBeforePassing?: number;
  /** Deregister the instance once it stayed critical this long, in ms; default: the registry's. */
  deregisterCriticalAfterMs?: number;
}

/** What to register. */
export interface RegisterOptions {
  /** Stable instance id; default `<name>-<uuid>`. Re-registrations after a registry restart reuse it. */
  id?: string;
  name: string;
  /** The address other processes reach this instance at (not `0.0.0.0`). */
  address: string;
  port: number;
  tags?: string[];
  /** Free-form metadata; `weight` is read by the weighted load balancer. */
  meta?: Record<string, string>;
  /** Lease time-to-live, in ms; heartbeats are sent every `ttlMs / 3`. */
  ttlMs: number;
  healthCheck?: HealthCheckOptions;
}

/**
 * What a service registers for itself (seed 000's service + health check, with a lease): the
 * registry polls `http://<address>:<port>/health` every 5 s with a 1 s timeout, and the lease of
 * `ttlMs` is renewed by heartbeats.
 */
export function selfRegistration(name: string, address: string, port: number, ttlMs: number): RegisterOptions {
  return { name, address, port, ttlMs, healthCheck: { http: `http://${address}:${port}/health`, intervalMs: 5_000, timeoutMs: 1_000 } };
}

/** A live registration: it heartbeats until {@link Registration.deregister} is called. */
export interface Registration {
  /** The instance id the registry knows this instance by. */
  readonly id: string;
  /**
   * Stops heartbeating and removes the instance from the registry (graceful shutdown: call it
   * after readiness turned 503 and before the server closes). An instance the registry no longer
   * knows counts as deregistered. Calling it twice is harmless.
   *
   * @throws {RegistryError} when the registry cannot be reached; the lease then lapses on its own.
   */
  deregister(): Promise<void>;
}

/** What {@link RegistryClient} needs. */
export interface RegistryClientOptions {
  /** e.g. `http://127.0.0.1:8500`. */
  registryUrl: string;
  logger: Logger;
  /** Timeout of each call to the registry, in ms; default 2000. */
  timeoutMs?: number;
  /**
   * The registry's token (its `REGISTRY_TOKEN`), sent as `Authorization: Bearer <token>` with
   * every call; needed for writes when the registry has one.
   */
  token?: string;
}

/** Options of {@link RegistryClient.discover}. */
export interface DiscoverOptions {
  /** Only `passing` instances (`?healthy=true`); default true. */
  healthyOnly?: boolean;
}

/** Options of {@link RegistryClient.lookup}. */
export interface LookupOptions extends DiscoverOptions {
  /** Only instances carrying every one of these tags. */
  tags?: readonly string[];
  /** Only instances with these metadata values, e.g. `{ version: '2.0.0' }`. */
  meta?: Readonly<Record<string, string>>;
  /**
   * A blocking query (Consul style): the registry answers once the service changed after this
   * catalog index (an earlier answer's `index`), or when `waitMs` ran out.
   */
  index?: number;
  /** How long a blocking query may wait, in ms; the registry's default is 5 min, its maximum 10 min. */
  waitMs?: number;
  /** Aborts the call. */
  signal?: AbortSignal;
}

/** A discover answer with what the registry said about it. */
export interface DiscoveryAnswer {
  instances: ServiceInstance[];
  /** The catalog index the answer reflects (`X-Registry-Index`); undefined from a registry without indexes (seed 000's). */
  index: number | undefined;
  /**
   * True while the registry warms up after a start (`X-Registry-Warming`): instances may be
   * missing only because they have not heartbeated since, so absence is not news yet.
   */
  warming: boolean;
}

/**
 * One message of the registry's watch stream (seed 003's added / updated / removed events, with
 * catalog indexes): `open` once the stream is established, a `snapshot` of every watched
 * instance (first, or when the registry could not replay what was missed, or when its warm-up
 * ends), then one message per change.
 */
export type RegistryWatchEvent =
  | { type: 'open'; index: number | undefined; warming: boolean }
  | { type: 'snapshot'; index: number; warming: boolean; instances: ServiceInstance[] }
  | {
      type: 'added' | 'updated' | 'removed';
      index: number;
      service: string;
      instance: ServiceInstance;
      /** Why a `removed` instance left: `deregistered`, `lease_expired`, `critical_timeout`. */
      reason?: string;
      /** What an `updated` event changed: `re-registered` or `health_changed`. */
      cause?: string;
    };

/** Options of {@link RegistryClient.watch}. */
export interface WatchOptions {
  /** Only this service's changes; absent: every service. */
  service?: string;
  /** Resume after this catalog index (the last one seen); absent: start with a snapshot. */
  index?: number;
  /** Ends the stream. */
  signal: AbortSignal;
  /** Longest silence allowed on the stream before it counts as dead, in ms; default 45 000 (three registry keep-alives). */
  idleTimeoutMs?: number;
}

const watchDataSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('snapshot'), index: z.number().int(), warming: z.boolean().default(false), instances: z.array(serviceInstanceSchema) }),
  z.object({
    type: z.enum(['added', 'updated', 'removed']),
    index: z.number().int(),
    service: z.string(),
    instance: serviceInstanceSchema,
    reason: z.string().optional(),
    cause: z.string().optional(),
  }),
]);

/**
 * Client of the registry's HTTP API (seed 000's wire contract plus leases): self-registration
 * with heartbeats, graceful deregistration and discovery. Calls use undici with a timeout.
 */
export class RegistryClient {
  private readonly api: RegistryApi;
  private readonly logger: Logger;

  constructor(options: RegistryClientOptions) {
    this.logger = options.logger.child({ component: 'registry-client' });
    this.api = new RegistryApi(options.registryUrl.replace(/\/+$/, ''), options.timeoutMs ?? 2_000, options.token);
  }

  /**
   * Registers an instance (`POST /v1/services`) and starts heartbeating every `ttlMs / 3`
   * (`PUT /v1/services/{id}/heartbeat`). A heartbeat answered 404 (the lease lapsed, or the
   * registry restarted and lost its memory) registers again at once, so a restarted registry
   * refills itself within one heartbeat. Heartbeat failures are logged, never thrown.
   *
   * @throws {RegistryError} when the first registration fails (registry unreachable or 4xx).
   * @throws {RangeError} when `ttlMs` is not positive.
   */
  async register(options: RegisterOptions): Promise<Registration> {
    if (!(options.ttlMs > 0)) throw new RangeError(`ttlMs must be > 0, got ${options.ttlMs}`);
    const id = options.id ?? `${options.name}-${randomUUID()}`;
    const body = registrationBody(id, options);
    await this.api.register(body);
    this.logger.info({ instance_id: id, service_name: options.name, address: options.address, port: options.port }, 'registered with the registry');
    const registration = new HeartbeatingRegistration(this.api, body, options.ttlMs, this.logger);
    registration.start();
    return registration;
  }

  /**
   * The instances of a service (`GET /v1/services/{name}/discover`). An unknown service has none.
   *
   * @throws {RegistryError} when the registry cannot be reached or answers something else than a list.
   */
  async discover(name: string, options: DiscoverOptions = {}): Promise<ServiceInstance[]> {
    return (await this.lookup(name, options)).instances;
  }

  /**
   * {@link discover} with filters, blocking queries and what the registry said about its answer
   * (the catalog index it reflects, whether the registry is still warming up).
   *
   * @throws {RegistryError} when the registry cannot be reached or answers something else than a list.
   */
  async lookup(name: string, options: LookupOptions = {}): Promise<DiscoveryAnswer> {
    const query = new URLSearchParams();
    if (options.healthyOnly ?? true) query.set('healthy', 'true');
    for (const tag of options.tags ?? []) query.append('tag', tag);
    for (const [key, value] of Object.entries(options.meta ?? {})) query.append('meta', `${key}:${value}`);
    if (options.index !== undefined) query.set('index', String(options.index));
    if (options.waitMs !== undefined) query.set('wait', `${Math.round(options.waitMs)}ms`);
    const search = query.size === 0 ? '' : `?${query.toString()}`;
    const blockingMs = options.index === undefined ? 0 : (options.waitMs ?? 5 * 60_000);
    const { status, body, headers } = await this.api.call('GET', `/v1/services/${encodeURIComponent(name)}/discover${search}`, undefined, {
      extraTimeoutMs: blockingMs,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (status !== 200) throw new RegistryError(`discover ${name}: registry answered ${status}${detailOf(body)}`, status);
    const parsed = serviceInstanceListSchema.safeParse(body);
    if (!parsed.success) throw new RegistryError(`discover ${name}: unexpected answer from the registry`, status, { cause: parsed.error });
    return { instances: parsed.data, index: indexOf(headers['x-registry-index']), warming: headers['x-registry-warming'] === 'true' };
  }

  /**
   * Opens the registry's watch stream (`GET /v1/watch`, or `/v1/services/{name}/watch`, as
   * Server-Sent Events) and yields its messages until the registry ends it or `signal` aborts
   * (then it simply returns). Callers reconnect with the last index they saw.
   *
   * @throws {RegistryError} when the registry cannot be reached, answers other than 200 (404:
   *   it has no watch endpoint), sends something unreadable, or stays silent past `idleTimeoutMs`.
   */
  async *watch(options: WatchOptions): AsyncGenerator<RegistryWatchEvent> {
    const path = options.service === undefined ? '/v1/watch' : `/v1/services/${encodeURIComponent(options.service)}/watch`;
    const url = `${this.api.baseUrl}${path}${options.index === undefined ? '' : `?index=${options.index}`}`;
    let response;
    try {
      response = await request(url, {
        method: 'GET',
        headers: this.api.headers({ accept: 'text/event-stream' }),
        signal: options.signal,
        headersTimeout: this.api.timeoutMs,
        bodyTimeout: options.idleTimeoutMs ?? 45_000,
      });
    } catch (error) {
      if (options.signal.aborted) return;
      throw new RegistryError(`watch ${url} failed: ${describe(error)}`, undefined, { cause: error });
    }
    if (response.statusCode !== 200) {
      const text = await response.body.text().catch(() => '');
      throw new RegistryError(`watch ${path}: registry answered ${response.statusCode}${detailOf(parseJson(text))}`, response.statusCode);
    }
    yield { type: 'open', index: indexOf(response.headers['x-registry-index']), warming: response.headers['x-registry-warming'] === 'true' };
    const parser = new SseParser();
    response.body.setEncoding('utf8');
    try {
      for await (const chunk of response.body as AsyncIterable<string>) {
        for (const event of parser.push(chunk)) {
          const parsed = watchDataSchema.safeParse(parseJson(event.data));
          if (!parsed.success) throw new RegistryError(`watch ${path}: unreadable ${event.event} event`, 200, { cause: parsed.error });
          yield parsed.data;
        }
      }
    } catch (error) {
      if (options.signal.aborted) return;
      if (error instanceof RegistryError) throw error;
      throw new RegistryError(`watch ${path} broke off: ${describe(error)}`, undefined, { cause: error });
    } finally {
      response.body.destroy();
    }
  }
}

function indexOf(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

/** Per-call options of {@link RegistryApi.call}. */
interface CallOptions {
  /** Added to the timeout, e.g. a blocking query's wait, in ms. */
  extraTimeoutMs?: number;
  signal?: AbortSignal;
}

/** A registry answer: status, parsed JSON body, headers. */
interface ApiAnswer {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/** The registry's endpoints over undici; every failure becomes a {@link RegistryError}. */
class RegistryApi {
  constructor(
    readonly baseUrl: string,
    readonly timeoutMs: number,
    private readonly token: string | undefined,
  ) {}

  /** Request headers, with the token when there is one. */
  headers(base: Record<string, string>): Record<string, string> {
    return this.token === undefined ? base : { ...base, authorization: `Bearer ${this.token}` };
  }

  /** POST /v1/services; throws unless 201. */
  async register(body: RegistrationBody): Promise<void> {
    const { status, body: answer } = await this.call('POST', '/v1/services', body);
    if (status !== 201) throw new RegistryError(`register ${body.service.id}: registry answered ${status}${detailOf(answer)}`, status);
  }

  /** PUT heartbeat: `renewed`, or `unknown` when the registry answered 404; throws otherwise. */
  async heartbeat(id: string): Promise<'renewed' | 'unknown'> {
    const { status, body } = await this.call('PUT', `/v1/services/${encodeURIComponent(id)}/heartbeat`);
    if (status === 200) return 'renewed';
    if (status === 404) return 'unknown';
    throw new RegistryError(`heartbeat ${id}: registry answered ${status}${detailOf(body)}`, status);
  }

  /** DELETE: `deregistered`, or `unknown` when the registry answered 404; throws otherwise. */
  async deregister(id: string): Promise<'deregistered' | 'unknown'> {
    const { status, body } = await this.call('DELETE', `/v1/services/${encodeURIComponent(id)}`);
    if (status === 200) return 'deregistered';
    if (status === 404) return 'unknown';
    throw new RegistryError(`deregister ${id}: registry answered ${status}${detailOf(body)}`, status);
  }

  /**
   * One call. Every registry call is idempotent (a registration under a fixed id replaces), so a
   * call that died on a stale keep-alive socket (the registry restarted) is tried once more at
   * once on a fresh connection instead of waiting for the next heartbeat.
   */
  async call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, options: CallOptions = {}): Promise<ApiAnswer> {
    try {
      return await this.send(method, path, body, options);
    } catch (error) {
      if (!isStaleConnection(error) || options.signal?.aborted) {
        throw new RegistryError(`${method} ${this.baseUrl}${path} failed: ${describe(error)}`, undefined, { cause: error });
      }
    }
    try {
      return await this.send(method, path, body, options);
    } catch (error) {
      throw new RegistryError(`${method} ${this.baseUrl}${path} failed: ${describe(error)}`, undefined, { cause: error });
    }
  }

  private async send(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body: unknown, options: CallOptions): Promise<ApiAnswer> {
    const timeoutMs = this.timeoutMs + (options.extraTimeoutMs ?? 0);
    const timeout = AbortSignal.timeout(timeoutMs);
    const response = await request(`${this.baseUrl}${path}`, {
      method,
      headers: this.headers(body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await response.body.text();
    return { status: response.statusCode, body: parseJson(text), headers: response.headers };
  }
}

/** A pooled connection the server closed meanwhile: `ECONNRESET`, or undici's "other side closed". */
function isStaleConnection(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE';
}

/** The registry's registration body (seed 000's `{service, health_check}` plus `ttl`), durations as strings. */
interface RegistrationBody {
  service: { id: string; name: string; address: string; port: number; tags: string[]; meta: Record<string, string> };
  health_check?: {
    http?: string;
    tcp?: string;
    interval: string;
    timeout: string;
    failures_before_critical?: number;
    successes_before_passing?: number;
    deregister_critical_service_after?: string;
  };
  ttl: string;
}

function registrationBody(id: string, options: RegisterOptions): RegistrationBody {
  const check = options.healthCheck;
  return {
    service: { id, name: options.name, address: options.address, port: options.port, tags: options.tags ?? [], meta: options.meta ?? {} },
    ...(check === undefined
      ? {}
      : {
          health_check: {
            ...(check.http === undefined ? {} : { http: check.http }),
            ...(check.tcp === undefined ? {} : { tcp: check.tcp }),
            interval: `${check.intervalMs}ms`,
            timeout: `${check.timeoutMs}ms`,
            ...(check.failuresBeforeCritical === undefined ? {} : { failures_before_critical: check.failuresBeforeCritical }),
            ...(check.successesBeforePassing === undefined ? {} : { successes_before_passing: check.successesBeforePassing }),
            ...(check.deregisterCriticalAfterMs === undefined ? {} : { deregister_critical_service_after: `${check.deregisterCriticalAfterMs}ms` }),
          },
        }),
    ttl: `${options.ttlMs}ms`,
  };
}

/** Keeps one registration alive: heartbeats on a timer, re-registers on 404, stops on deregister. */
class HeartbeatingRegistration implements Registration {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  private deregistered: Promise<void> | undefined;
  private failing = false;
  private readonly intervalMs: number;

  readonly id: string;

  constructor(
    private readonly api: RegistryApi,
    private readonly body: RegistrationBody,
    ttlMs: number,
    private readonly logger: Logger,
  ) {
    this.id = body.service.id;
    this.intervalMs = Math.max(1, Math.floor(ttlMs / 3));
  }

  start(): void {
    this.scheduleNext();
  }

  deregister(): Promise<void> {
    this.deregistered ??= this.stopAndDelete();
    return this.deregistered;
  }

  private async stopAndDelete(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // A heartbeat still in flight could re-register after the DELETE; let it finish first.
    await this.inFlight;
    const outcome = await this.api.deregister(this.id);
    this.logger.info({ instance_id: this.id, outcome }, 'deregistered from the registry');
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.beat().finally(() => {
        this.inFlight = undefined;
        this.scheduleNext();
      });
    }, this.intervalMs);
    // Heartbeats alone must not keep a process alive that has nothing else to do.
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    try {
      const outcome = await this.api.heartbeat(this.id);
      if (outcome === 'unknown' && !this.stopped) {
        this.logger.warn({ instance_id: this.id }, 'registry does not know this instance (lease lapsed or registry restarted): registering again');
        await this.api.register(this.body);
      }
      if (this.failing) this.logger.info({ instance_id: this.id }, 'heartbeats reach the registry again');
      this.failing = false;
    } catch (error) {
      // Log the first failure of a run loudly and the rest quietly: the registry may be down for a while.
      this.logger[this.failing ? 'debug' : 'warn']({ instance_id: this.id, err: error }, 'heartbeat failed');
      this.failing = true;
    }
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function detailOf(body: unknown): string {
  const detail = (body as { detail?: unknown } | undefined)?.detail;
  return typeof detail === 'string' ? `: ${detail}` : '';
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code) ? `${code} ${error.message}` : error.message;
}
