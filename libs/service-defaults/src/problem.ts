import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';

/** One field-level problem inside a 400 answer. */
export interface InvalidParam {
  /** Dotted path into the input, e.g. `items.0.quantity`; `body` for the whole body. */
  name: string;
  reason: string;
}

/**
 * An error that becomes an RFC 9457 `application/problem+json` answer. Throw it anywhere in a
 * request handler; {@link problemHandler} renders it.
 *
 * @example throw new ProblemError(404, 'USER.NOT_FOUND', `No user with id ${id}`)
 */
export class ProblemError extends Error {
  constructor(
    /** HTTP status, 4xx or 5xx. */
    readonly status: number,
    /** Stable machine-readable code such as `ORDER.UNKNOWN_SKU`. */
    readonly code: string,
    /** Human-readable explanation of this occurrence. */
    readonly detail: string,
    /** Extra members, e.g. `invalid_params`. */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
  }
}

/** Turns an app's domain error into a problem, or returns undefined if it does not know it. */
export type ErrorMapper = (error: unknown) => ProblemError | undefined;

const reasonPhrases: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The JSON body of a problem answer. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code: string;
  request_id?: string;
  [extension: string]: unknown;
}

/** Builds the body of a problem answer; exported for proxies that must answer problems themselves. */
export function problemBody(problem: ProblemError, instance?: string, requestId?: string): ProblemBody {
  return {
    type: `urn:problem:${problem.code.toLowerCase()}`,
    title: reasonPhrases[problem.status] ?? 'Error',
    status: problem.status,
    detail: problem.detail,
    ...(instance === undefined ? {} : { instance }),
    code: problem.code,
    ...(requestId === undefined ? {} : { request_id: requestId }),
    ...problem.extensions,
  };
}

/**
 * Validates `input` with a zod schema.
 *
 * @param where - what the input is (`body`, `query`, `params`), used in the problem detail.
 * @returns the parsed, typed value.
 * @throws {ProblemError} 400 `REQUEST.INVALID` naming every invalid field.
 */
export function validate<S extends z.ZodType>(schema: S, input: unknown, where: 'body' | 'query' | 'params'): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const invalidParams: InvalidParam[] = result.error.issues.flatMap((issue) => {
    // An unknown key is reported on the object that holds it; name each key itself instead.
    const paths = issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path, key]) : [issue.path];
    return paths.map((path) => ({ name: path.length > 0 ? path.join('.') : where, reason: issue.message }));
  });
  const summary = invalidParams.map((param) => `${param.name}: ${param.reason}`).join('; ');
  throw new ProblemError(400, 'REQUEST.INVALID', `Invalid ${where}: ${summary}`, { invalid_params: invalidParams });
}

/** Answers 404 problem+json for any route nothing else handled. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new ProblemError(404, 'ROUTE.NOT_FOUND', `No route for ${req.method} ${req.path}`));
};

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

function fromBodyParser(error: unknown): ProblemError | undefined {
  const { type, limit } = (error ?? {}) as BodyParserError;
  switch (type) {
    case 'entity.parse.failed':
      return new ProblemError(400, 'REQUEST.MALFORMED_JSON', 'The request body is not valid JSON');
    case 'entity.too.large':
      return new ProblemError(413, 'REQUEST.TOO_LARGE', `The request body exceeds ${limit ?? 'the limit of'} bytes`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ProblemError(415, 'REQUEST.UNSUPPORTED_ENCODING', 'The request body encoding is not supported');
    default:
      return undefined;
  }
}

/**
 * The problem an error amounts to: a {@link ProblemError} as is, a body-parser failure, whatever
 * `mapError` recognises, else a generic 500 `INTERNAL` (whose detail never reveals the error).
 */
export function problemOf(error: unknown, mapError: ErrorMapper = () => undefined): ProblemError {
  return (
    (error instanceof ProblemError ? error : undefined) ??
    fromBodyParser(error) ??
    mapError(error) ??
    new ProblemError(500, 'INTERNAL', 'An unexpected error occurred')
  );
}

/**
 * Answers `problem` as `application/problem+json` on a plain Node response, keeping the headers
 * already set on it (request id, security headers, ...). For handlers outside Express, such as a
 * proxy's hot path; Express apps throw {@link ProblemError}s to {@link problemHandler} instead.
 *
 * @param instance - the request target, e.g. `/api/orders/1`.
 */
export function writeProblem(res: ServerResponse, problem: ProblemError, instance?: string, requestId?: string): void {
  const body = JSON.stringify(problemBody(problem, instance, requestId));
  res.statusCode = problem.status;
  res.setHeader('content-type', 'application/problem+json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

/**
 * The one error middleware of an app: renders {@link ProblemError}s, body-parser failures and
 * whatever `mapError` recognises as problem+json with the request id. Anything else is logged
 * with its stack and answered as a generic 500: no stack traces reach clients.
 */
export function problemHandler(logger: Logger, mapError: ErrorMapper = () => undefined): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const problem = problemOf(error, mapError);
    if (problem.status >= 500) logger.error({ err: error }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const requestId = res.getHeader('x-request-id');
    writeProblem(res, problem, req.originalUrl, typeof requestId === 'string' ? requestId : undefined);
  };
}
