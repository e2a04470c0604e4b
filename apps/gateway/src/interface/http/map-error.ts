import { ProblemError, type ErrorMapper } from '@msr/service-defaults';
import { GatewayError, type GatewayErrorCode } from '../../domain/gateway.errors.js';

const statusOf = (code: GatewayErrorCode): number => {
  switch (code) {
    case 'GATEWAY.NO_HEALTHY_INSTANCE':
    case 'GATEWAY.DISCOVERY_UNAVAILABLE':
    case 'GATEWAY.CIRCUIT_OPEN':
    case 'GATEWAY.BULKHEAD_FULL':
      return 503;
    case 'GATEWAY.UPSTREAM_TIMEOUT':
      return 504;
    case 'GATEWAY.UPSTREAM_UNREACHABLE':
    case 'GATEWAY.BAD_UPSTREAM_RESPONSE':
      return 502;
    default: {
      const unhandled: never = code;
      throw new Error(`unmapped gateway error code ${String(unhandled)}`);
    }
  }
};

/**
 * The gateway's one error mapping: each {@link GatewayError} becomes an
 * `application/problem+json` answer (502, 503 or 504) naming the upstream `service`.
 */
export const mapError: ErrorMapper = (error) =>
  error instanceof GatewayError ? new ProblemError(statusOf(error.code), error.code, error.message, { service: error.service }) : undefined;
