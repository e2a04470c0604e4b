import { z } from 'zod';

/** A JSON object of an OpenAPI document. */
export type JsonObject = Record<string, unknown>;

const componentUri = (id: string) => `#/components/schemas/${id}`;

/** The long regexes zod emits beside `format: uuid` / `date-time` add nothing: the format says it. */
function dropFormatPatterns({ jsonSchema }: { jsonSchema: JsonObject }): void {
  if (jsonSchema['format'] !== undefined) delete jsonSchema['pattern'];
}

/**
 * An `application/problem+json` body (RFC 9457) as {@link problemHandler} renders it; loose,
 * because RFC 9457 allows extension members. Register it as the `Problem` component.
 */
export const problemSchema = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int().min(400).max(599),
  detail: z.string(),
  instance: z.string().optional(),
  code: z.string().meta({ description: 'Stable error code, e.g. USER.EMAIL_TAKEN or REQUEST.INVALID.' }),
  request_id: z.string().optional(),
  invalid_params: z.array(z.object({ name: z.string(), reason: z.string() })).optional(),
});

/**
 * Building blocks for a service's OpenAPI 3.0 document generated from the same zod schemas its
 * routers validate with (API-first, seed 002), so document and validation cannot drift apart.
 */
export const openApi = {
  /**
   * Converts named zod schemas to OpenAPI 3.0 component schemas; schemas nested in each other
   * become `$ref`s. Requests are described as the client sends them (`input`), responses as the
   * server renders them (`output`).
   */
  components(schemas: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, JsonObject> {
    const registry = z.registry<{ id: string }>();
    for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
    const { schemas: converted } = z.toJSONSchema(registry, { target: 'openapi-3.0', io, uri: componentUri, override: dropFormatPatterns }) as {
      schemas: Record<string, JsonObject>;
    };
    // OpenAPI 3.0 schema objects have no `$id`.
    return Object.fromEntries(Object.entries(converted).map(([id, { $id: _id, ...schema }]) => [id, schema]));
  },
  /** The schema of one path or query parameter, as the client sends it. */
  parameterSchema(schema: z.ZodType): JsonObject {
    return z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', override: dropFormatPatterns }) as JsonObject;
  },
  /** A `$ref` to component schema `name`. */
  ref: (name: string) => ({ $ref: componentUri(name) }),
  /** An `application/json` content map of component schema `name`. */
  json: (name: string) => ({ 'application/json': { schema: { $ref: componentUri(name) } } }),
  /** A problem+json response object with the `Problem` component. */
  problem: (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: componentUri('Problem') } } } }),
};
