import type { RequestHandler } from 'express';
import { openApi, problemSchema, type JsonObject } from '@msr/service-defaults';
import { z } from 'zod';
import { idParams, listOrdersQuery, listSagasQuery, placeOrderBody } from './order.schemas.js';

const { components, parameterSchema, json } = openApi;

// Responses, as `representations.ts` renders them (requests come from order.schemas.ts, the ones the router validates with).
const timestamp = z.iso.datetime({ offset: true });
const product = z.object({ sku: z.string(), name: z.string(), price_cents: z.number().int().min(0), stock: z.number().int().min(0) });
const productList = z.object({ data: z.array(product) });
const orderPlaced = z.object({ order_id: z.uuid(), status: z.literal('PENDING'), saga_id: z.uuid() });
const sagaStep = z.object({
  step: z.string().meta({ description: 'The action, e.g. reserve-inventory, or its compensation, e.g. release-inventory.' }),
  direction: z.string(),
  outcome: z.string(),
  attempts: z.number().int(),
  duration_ms: z.number().nullable(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  error: z.string().optional(),
});
const order = z.object({
  id: z.uuid(),
  user_id: z.uuid(),
  status: z.enum(['PENDING', 'APPROVED', 'REJECTED']),
  reason_code: z.string().nullable(),
  reason: z.string().nullable(),
  items: z.array(z.object({ sku: z.string(), quantity: z.number().int(), unit_price_cents: z.number().int(), subtotal_cents: z.number().int() })),
  total_cents: z.number().int(),
  created_at: timestamp,
  updated_at: timestamp,
  saga: z.object({ id: z.uuid(), status: z.string(), steps: z.array(sagaStep) }).optional(),
});
const orderList = z.object({ data: z.array(order) });
const saga = z.looseObject({ id: z.uuid(), type: z.string(), status: z.string(), steps: z.array(z.looseObject({ step: z.string() })) });
const sagaList = z.object({ data: z.array(z.looseObject({ id: z.uuid(), type: z.string(), status: z.string() })) });
const sagaRetried = z.looseObject({ id: z.uuid(), status: z.string() });
const problem = problemSchema;

const problemAnswer = openApi.problem;

/**
 * The OpenAPI 3.0 document of the order-service API (API-first, seed 002), served at
 * `GET /openapi.json`. Request bodies and parameters are generated from the zod schemas the
 * router validates with (`order.schemas.ts`), so the two cannot drift apart.
 */
export function buildOpenApiDocument(): JsonObject {
  const idParameter = { name: 'id', in: 'path', required: true, schema: parameterSchema(idParams.shape.id) };
  return {
    openapi: '3.0.3',
    info: {
      title: 'Order Service API',
      version: '1.0.0',
      description: 'Product catalog and orders; placing an order starts the PlaceOrder saga (verify user, reserve inventory, authorize payment, approve).',
    },
    paths: {
      '/products': {
        get: { summary: 'List the catalog with stock', responses: { '200': { description: 'Every product', content: json('ProductList') } } },
      },
      '/orders': {
        get: {
          summary: "List a user's orders, newest first",
          parameters: [{ name: 'user_id', in: 'query', required: true, schema: parameterSchema(listOrdersQuery.shape.user_id) }],
          responses: { '200': { description: 'Orders of the user', content: json('OrderList') }, '400': problemAnswer('user_id missing or not a UUID') },
        },
        post: {
          summary: 'Place an order (prices come from the catalog); the saga decides it asynchronously',
          requestBody: { required: true, content: json('PlaceOrderRequest') },
          responses: {
            '202': {
              description: 'Order accepted, PENDING until its saga approves or rejects it',
              headers: { Location: { schema: { type: 'string' }, description: '/orders/{id}' } },
              content: json('OrderPlaced'),
            },
            '400': problemAnswer('Invalid body'),
            '422': problemAnswer('Unknown SKU (ORDER.UNKNOWN_SKU)'),
          },
        },
      },
      '/orders/{id}': {
        parameters: [idParameter],
        get: {
          summary: 'Get an order with its saga step log',
          responses: { '200': { description: 'The order', content: json('Order') }, '400': problemAnswer('Id is not a UUID'), '404': problemAnswer('No such order') },
        },
      },
      '/sagas': {
        get: {
          summary: 'List sagas, oldest first, e.g. stuck ones (for operators)',
          parameters: Object.entries(listSagasQuery.shape).map(([name, schema]) => ({ name, in: 'query', schema: parameterSchema(schema) })),
          responses: { '200': { description: 'Sagas without their step logs', content: json('SagaList') }, '400': problemAnswer('Bad filter') },
        },
      },
      '/sagas/{id}': {
        parameters: [idParameter],
        get: {
          summary: 'Get a saga with its data, failure and full step log (for operators)',
          responses: { '200': { description: 'The saga', content: json('Saga') }, '400': problemAnswer('Id is not a UUID'), '404': problemAnswer('No such saga') },
        },
      },
      '/sagas/{id}/retry': {
        parameters: [idParameter],
        post: {
          summary: 'Retry a parked COMPENSATION_FAILED or FAILED saga (for operators)',
          responses: {
            '202': { description: 'Retry recorded; it runs right after', content: json('SagaRetried') },
            '404': problemAnswer('No such saga'),
            '409': problemAnswer('Saga is not parked (SAGA.NOT_RETRYABLE)'),
          },
        },
      },
    },
    components: {
      schemas: {
        ...components({ PlaceOrderRequest: placeOrderBody }, 'input'),
        ...components(
          { Product: product, ProductList: productList, OrderPlaced: orderPlaced, Order: order, OrderList: orderList, Saga: saga, SagaList: sagaList, SagaRetried: sagaRetried, Problem: problem },
          'output',
        ),
      },
    },
  };
}

/** `GET /openapi.json`: the document, built once. */
export function openApiHandler(): RequestHandler {
  const document = buildOpenApiDocument();
  return (_req, res) => {
    res.json(document);
  };
}
