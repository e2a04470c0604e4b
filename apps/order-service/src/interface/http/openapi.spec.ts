import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from './openapi.js';
import { placeOrderBody } from './order.schemas.js';

type Document = {
  openapi: string;
  paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, { required?: string[]; properties?: Record<string, unknown> }> };
};

describe('order-service OpenAPI document', () => {
  const document = buildOpenApiDocument() as Document;

  it('is OpenAPI 3 and documents every route of the router', () => {
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(['/products', '/orders', '/orders/{id}', '/sagas', '/sagas/{id}', '/sagas/{id}/retry']);
    expect(Object.keys(document.paths['/orders'] ?? {})).toEqual(['get', 'post']);
    expect(Object.keys(document.paths['/orders']?.['post']?.responses ?? {})).toEqual(['202', '400', '422']);
  });

  it('describes the order request with the schema the router validates with', () => {
    const request = document.components.schemas['PlaceOrderRequest'];
    expect(request?.required).toEqual(['user_id', 'items']);
    const generated = z.toJSONSchema(placeOrderBody, { target: 'openapi-3.0', io: 'input' }) as { properties: Record<string, { maxItems?: number }> };
    expect((request?.properties?.['items'] as { maxItems?: number }).maxItems).toBe(generated.properties['items']?.maxItems);
    // Prices never come from the client.
    expect(JSON.stringify(request)).not.toMatch(/price/);
  });

  it('takes the saga filters from the query schema the saga router validates with', () => {
    const parameters = (document.paths['/sagas']?.['get'] as unknown as { parameters: Array<{ name: string }> }).parameters;
    expect(parameters.map((parameter) => parameter.name)).toEqual(['status', 'type', 'older_than', 'limit']);
  });

  it('describes answers as the representations render them', () => {
    expect(document.components.schemas['Product']?.required).toEqual(['sku', 'name', 'price_cents', 'stock']);
    expect(document.components.schemas['OrderPlaced']?.required).toEqual(['order_id', 'status', 'saga_id']);
  });
});
