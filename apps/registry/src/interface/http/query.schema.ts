import { z } from 'zod';
import type { InstanceFilter } from '../../domain/instance-filter.js';
import { duration, durationBounds } from './registration.schema.js';

/** A query parameter given once (`?tag=a`) or repeated (`?tag=a&tag=b`), as a list. */
const oneOrMany = z.union([z.string(), z.array(z.string())]).transform((value) => (Array.isArray(value) ? value : [value]));

const tagList = oneOrMany.pipe(z.array(z.string().min(1, 'must not be empty').max(256)).max(32));

/** `meta=key:value`, repeatable, into a record; the value may be empty, the key may not. */
const metaList = oneOrMany
  .pipe(z.array(z.string().regex(/^[^:]{1,128}:.{0,1024}$/, 'must be key:value, e.g. version:1.0.0')).max(32))
  .transform((pairs) => Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf(':')), pair.slice(pair.indexOf(':') + 1)])));

/** A catalog index: a non-negative integer. */
const index = z
  .string()
  .regex(/^\d{1,15}$/, 'must be a non-negative integer')
  .transform(Number);

const healthyFlag = z.enum(['true', 'false', '1', '0']).optional();

/** `?tag=...&meta=key:value` (seed 003's filters), as an {@link InstanceFilter}. */
export const filterQuerySchema = z.object({ tag: tagList.optional(), meta: metaList.optional() });

/** Query of `GET /v1/services`, `GET /v1/services/{name}`: the filters. */
export type FilterQuery = z.infer<typeof filterQuerySchema>;

/** The filter a query describes (undefined when it names none). */
export function filterOf(query: FilterQuery): InstanceFilter | undefined {
  if (query.tag === undefined && query.meta === undefined) return undefined;
  return { ...(query.tag === undefined ? {} : { tags: query.tag }), ...(query.meta === undefined ? {} : { meta: query.meta }) };
}

/** Whether `healthy=true` (or `1`) was asked for. */
export function healthyOnly(flag: string | undefined): boolean {
  return flag === 'true' || flag === '1';
}

/** Consul's default wait of a blocking query without `wait`, in ms. */
export const defaultWaitMs = 5 * 60_000;

/**
 * Query of `GET /v1/services/{name}/discover`: `healthy=true` keeps only passing instances;
 * filters; and a blocking query (`index=N&wait=30s`, Consul style: answer once the service
 * changed after index N, or after `wait`, at most 10 min).
 */
export const discoverQuerySchema = filterQuerySchema.extend({
  healthy: healthyFlag,
  index: index.optional(),
  wait: duration(durationBounds.wait).optional(),
});

/** Query of `GET /v1/catalog`: `healthy` and the filters. */
export const catalogQuerySchema = filterQuerySchema.extend({ healthy: healthyFlag });

/** Query of the watch streams: `index=N` resumes after index N (as the `Last-Event-ID` header does). */
export const watchQuerySchema = z.object({ index: index.optional() });

/** A `Last-Event-ID` header as an index, or undefined when absent or not a number. */
export function lastEventIndex(header: string | undefined): number | undefined {
  return header !== undefined && /^\d{1,15}$/.test(header) ? Number(header) : undefined;
}
