import { PaymentNotFoundError } from '../domain/domain-errors.js';
import type { Payment } from '../domain/payment.entity.js';
import type { PaymentRepository } from '../domain/payment.repository.js';

/**
 * One payment by id (`GET /payments/{id}`).
 *
 * @throws {PaymentNotFoundError} when there is none.
 */
export async function getPayment(payments: PaymentRepository, paymentId: string): Promise<Payment> {
  const payment = await payments.findById(paymentId);
  if (payment === undefined) throw new PaymentNotFoundError(paymentId);
  return payment;
}
