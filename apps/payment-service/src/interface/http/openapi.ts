import type { RequestHandler } from 'express';
import { openApi, problemSchema, type JsonObject } from '@msr/service-defaults';
import { z } from 'zod';

const { components, parameterSchema, json } = openApi;

/**
 * The one parameter type of this API: every id the routers take (`user_id`, `id`, `order_id`) is
 * validated as `z.uuid()` there (accounts.router.ts, payments.router.ts); a 400 answers anything else.
 */
const uuidParameter = z.uuid();

const timestamp = z.iso.datetime({ offset: true });
// As representations.ts renders them.
const account = z.object({
  user_id: z.uuid(),
  balance_cents: z.number().int().meta({ description: 'Balance in cents.' }),
  currency: z.literal('USD'),
  created_at: timestamp,
  updated_at: timestamp,
});
const payment = z.object({
  id: z.uuid(),
  order_id: z.uuid(),
  user_id: z.uuid(),
  amount_cents: z.number().int(),
  status: z.string().meta({ description: 'AUTHORIZED, DECLINED or REFUNDED.' }),
  decline_reason: z.enum(['INSUFFICIENT_FUNDS', 'ACCOUNT_NOT_FOUND']).optional().meta({ description: 'Only on DECLINED payments.' }),
  decline_detail: z.string().optional(),
  created_at: timestamp,
  updated_at: timestamp,
});
const paymentList = z.object({ data: z.array(payment) });
const problem = problemSchema;

const problemAnswer = openApi.problem;
const uuidSchema = () => parameterSchema(uuidParameter);

/**
 * The OpenAPI 3.0 document of the payment-service's read API (API-first, seed 002), served at
 * `GET /openapi.json`. Payments are authorized and refunded over Kafka commands, not HTTP.
 */
export function buildOpenApiDocument(): JsonObject {
  return {
    openapi: '3.0.3',
    info: {
      title: 'Payment Service API',
      version: '1.0.0',
      description: 'Accounts and payments (read side). Accounts open on user.created; payments are authorized and refunded by the PlaceOrder saga over Kafka.',
    },
    paths: {
      '/accounts/{user_id}': {
        parameters: [{ name: 'user_id', in: 'path', required: true, schema: uuidSchema() }],
        get: {
          summary: "Get a user's account and balance",
          responses: { '200': { description: 'The account', content: json('Account') }, '400': problemAnswer('user_id is not a UUID'), '404': problemAnswer('No account (ACCOUNT.NOT_FOUND)') },
        },
      },
      '/payments': {
        get: {
          summary: 'List the payments of an order',
          parameters: [{ name: 'order_id', in: 'query', required: true, schema: uuidSchema() }],
          responses: { '200': { description: 'Payments of the order', content: json('PaymentList') }, '400': problemAnswer('order_id missing or not a UUID') },
        },
      },
      '/payments/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: uuidSchema() }],
        get: {
          summary: 'Get a payment',
          responses: { '200': { description: 'The payment', content: json('Payment') }, '400': problemAnswer('Id is not a UUID'), '404': problemAnswer('No payment (PAYMENT.NOT_FOUND)') },
        },
      },
    },
    components: { schemas: components({ Account: account, Payment: payment, PaymentList: paymentList, Problem: problem }, 'output') },
  };
}

/** `GET /openapi.json`: the document, built once. */
export function openApiHandler(): RequestHandler {
  const document = buildOpenApiDocument();
  return (_req, res) => {
    res.json(document);
  };
}
