import { describe, expect, it } from 'vitest';
import {
  AccountNotFoundError,
  InsufficientFundsError,
  InvalidAmountError,
  PaymentAlreadyRefundedError,
  PaymentNotFoundError,
  PaymentNotRefundableError,
} from '../../domain/domain-errors.js';
import { mapPaymentError } from './payment-problems.js';

const id = '7f1c3a52-8a4e-4f0e-9d3b-2a4c5e6f7a8b';

describe('mapPaymentError', () => {
  it.each([
    [new AccountNotFoundError(id), 404],
    [new PaymentNotFoundError(id), 404],
    [new PaymentAlreadyRefundedError(id), 409],
    [new PaymentNotRefundableError(id, 'DECLINED'), 409],
    [new InsufficientFundsError(id, 1, 2), 422],
    [new InvalidAmountError(-1), 422],
  ])('maps %s to %i with its code', (error, status) => {
    const problem = mapPaymentError(error);
    expect(problem?.status).toBe(status);
    expect(problem?.code).toBe(error.code);
    expect(problem?.detail).toBe(error.message);
  });

  it('leaves errors that are not domain errors to the generic 500', () => {
    expect(mapPaymentError(new Error('boom'))).toBeUndefined();
  });
});
