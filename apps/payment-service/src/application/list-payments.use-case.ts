import type { Payment } from '../domain/payment.entity.js';
import type { PaymentRepository } from '../domain/payment.repository.js';

/**
 * The payments of an order (`GET /payments?order_id=`): none or one, since an order is
 * authorized at most once; a list so that the API can grow (e.g. partial captures) unchanged.
 */
export async function listPayments(payments: PaymentRepository, orderId: string): Promise<Payment[]> {
  const payment = await payments.findByOrderId(orderId);
  return payment === undefined ? [] : [payment];
}
