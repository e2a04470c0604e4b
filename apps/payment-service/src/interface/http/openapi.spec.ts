import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from './openapi.js';

type Document = {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, { required?: string[] }> };
};

describe('payment-service OpenAPI document', () => {
  const document = buildOpenApiDocument() as Document;

  it('is OpenAPI 3 and documents the read API of both routers', () => {
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(['/accounts/{user_id}', '/payments', '/payments/{id}']);
  });

  it('describes accounts and payments as the representations render them', () => {
    expect(document.components.schemas['Account']?.required).toEqual(['user_id', 'balance_cents', 'currency', 'created_at', 'updated_at']);
    expect(document.components.schemas['Payment']?.required).toEqual(['id', 'order_id', 'user_id', 'amount_cents', 'status', 'created_at', 'updated_at']);
  });
});
