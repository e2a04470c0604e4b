import { validate } from '@msr/service-defaults';
import { Router } from 'express';
import { z } from 'zod';
import { getPayment } from '../../application/get-payment.use-case.js';
import { listPayments } from '../../application/list-payments.use-case.js';
import type { PaymentRepository } from '../../domain/payment.repository.js';
import { paymentJson } from './representations.js';

const paymentParams = z.object({ id: z.uuid() });
const paymentsQuery = z.object({ order_id: z.uuid() });

/**
 * - `GET /payments?order_id=<uuid>` → 200 `{data: PaymentJson[]}`; 400 when `order_id` is
 *   missing or not a UUID.
 * - `GET /payments/{id}` → 200 {@link PaymentJson}; 400 for a non-UUID id; 404 `PAYMENT.NOT_FOUND`.
 */
export function paymentsRouter(payments: PaymentRepository): Router {
  const router = Router();
  router.get('/payments', async (req, res) => {
    const { order_id: orderId } = validate(paymentsQuery, req.query, 'query');
    res.json({ data: (await listPayments(payments, orderId)).map(paymentJson) });
  });
  router.get('/payments/:id', async (req, res) => {
    const { id } = validate(paymentParams, req.params, 'params');
    res.json(paymentJson(await getPayment(payments, id)));
  });
  return router;
}
