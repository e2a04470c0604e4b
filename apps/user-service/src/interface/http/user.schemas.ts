import { problemSchema } from '@msr/service-defaults';
import { z } from 'zod';
import { maxEmailLength } from '../../domain/email.value-object.js';
import type { UserSnapshot } from '../../domain/user.entity.js';
import { maxUserNameLength } from '../../domain/user-name.value-object.js';
import { userStatuses } from '../../domain/user-status.js';
import { maxPageSize } from '../../application/list-users/list-users.service.js';

/*
 * The wire schemas of the users API (seed 002's OpenAPI, snake_case fields). Requests are parsed
 * with these; `openapi.ts` turns the same schemas into `GET /openapi.json`; the tests check
 * responses against them.
 *
 * Unknown fields are rejected everywhere (strict objects): a JSON body or query string carrying a
 * field this API does not know gets a 400 naming it, so a typo such as `{"staus": "active"}` is
 * never silently ignored.
 *
 * The e-mail and the name are only type-checked here: their rules live in the domain's value
 * objects (`USER.INVALID_EMAIL`, `USER.INVALID_NAME`); the metadata below documents those rules.
 */

/** `{id}` path parameter: a UUID in its 8-4-4-4-12 hex form (any case). */
export const userIdParams = z.strictObject({
  id: z.guid({ error: 'must be a UUID' }).meta({ description: 'The user id (UUID).' }),
});

/** Body of `POST /users` (seed 002's `CreateUserRequest`). */
export const createUserRequest = z
  .strictObject({
    email: z.string().meta({
      format: 'email',
      maxLength: maxEmailLength,
      description: 'Stored trimmed and lower-cased; unique case-insensitively.',
    }),
    name: z.string().meta({ minLength: 1, maxLength: maxUserNameLength, description: `Trimmed; 1-${maxUserNameLength} characters.` }),
  });

/** Body of `PUT /users/{id}` (seed 002's `UpdateUserRequest`): name and/or status. */
export const updateUserRequest = z
  .strictObject({
    name: z.string().optional().meta({ minLength: 1, maxLength: maxUserNameLength }),
    status: z.enum(userStatuses).optional().meta({
      description: 'active: from pending or inactive; inactive: from any status; pending: only while pending.',
    }),
  })
  .refine((body) => body.name !== undefined || body.status !== undefined, { error: 'give name and/or status' })
  .meta({ minProperties: 1 });

/** Page number, 1-based. */
export const pageNumber = z.number().int().min(1);
/** Page size. */
export const pageSize = z.number().int().min(1).max(maxPageSize);

const wholeNumber = z.string().regex(/^\d+$/, { error: 'must be a whole number' }).transform(Number);

/** Query of `GET /users`: `page` ≥ 1 (default 1), `limit` 1–100 (default 10). */
export const listUsersQuery = z.strictObject({
  page: wholeNumber.pipe(pageNumber).default(1),
  limit: wholeNumber.pipe(pageSize).default(10),
});

/** A user on the wire (seed 002's `User`). */
export const userResponse = z.strictObject({
  id: z.uuid(),
  email: z.string().meta({ format: 'email' }),
  name: z.string(),
  status: z.enum(userStatuses),
  created_at: z.iso.datetime({ offset: true }),
  updated_at: z.iso.datetime({ offset: true }),
});

/** Seed 002's `Pagination`. */
export const paginationResponse = z.strictObject({
  page: pageNumber,
  limit: pageSize,
  total: z.number().int().min(0),
  pages: z.number().int().min(0),
});

/** Body of `GET /users`. */
export const userListResponse = z.strictObject({ data: z.array(userResponse), pagination: paginationResponse });

/**
 * An `application/problem+json` body (RFC 9457) as `@msr/service-defaults` renders it; loose,
 * because RFC 9457 allows extension members.
 */
export const problemResponse = problemSchema;

/** A user as seed 002's API shows it. */
export type UserResponse = z.infer<typeof userResponse>;

/** Renders a user for the wire: snake_case, RFC 3339 times. */
export function toUserResponse(user: UserSnapshot): UserResponse {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    status: user.status,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
  };
}
