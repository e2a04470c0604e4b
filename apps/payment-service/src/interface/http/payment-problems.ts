import { ProblemError, type ErrorMapper } from '@msr/service-defaults';
import { PaymentDomainError } from '../../domain/domain-errors.js';

/**
 * payment-service's one error mapping (STYLE.md rule 6): each domain error code to an HTTP
 * status, rendered as `application/problem+json` by the shared problem handler. The switch ends
 * in an exhaustiveness check, so a new code must be mapped here before the app type-checks.
 */
export const mapPaymentError: ErrorMapper = (error) => {
  if (!(error instanceof PaymentDomainError)) return undefined;
  const code = error.code;
  switch (code) {
    case 'ACCOUNT.NOT_FOUND':
    case 'PAYMENT.NOT_FOUND':
      return new ProblemError(404, code, error.message);
    case 'PAYMENT.ALREADY_REFUNDED':
    case 'PAYMENT.NOT_REFUNDABLE':
    case 'PAYMENT.ORDER_CANCELLED':
      return new ProblemError(409, code, error.message);
    case 'PAYMENT.INSUFFICIENT_FUNDS':
    case 'MONEY.INVALID_AMOUNT':
      return new ProblemError(422, code, error.message);
    default: {
      // Unreachable while every code is mapped above; an unmapped one becomes a generic 500.
      const unmapped: never = code;
      return unmapped;
    }
  }
};
