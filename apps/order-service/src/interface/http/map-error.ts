import { ProblemError, type ErrorMapper } from '@msr/service-defaults';
import { OrderError, type OrderErrorCode } from '../../domain/order.errors.js';

/**
 * order-service's one error mapper (STYLE.md rule 6): domain errors to problem+json. A new
 * `OrderErrorCode` does not compile until it has a status here.
 */
export const mapError: ErrorMapper = (error) => {
  if (!(error instanceof OrderError)) return undefined;
  return new ProblemError(statusOf(error.code), error.code, error.message, error.skus.length > 0 ? { skus: error.skus } : {});
};

function statusOf(code: OrderErrorCode): number {
  switch (code) {
    case 'ORDER.NOT_FOUND':
      return 404;
    case 'ORDER.UNKNOWN_SKU':
      return 422;
    case 'ORDER.INVALID_ITEMS':
      return 400;
    case 'ORDER.INVALID_TRANSITION':
      return 409;
    default: {
      const unhandled: never = code;
      throw new Error(`unmapped order error code ${String(unhandled)}`);
    }
  }
}
