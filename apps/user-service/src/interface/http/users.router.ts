import { validate } from '@msr/service-defaults';
import { Router } from 'express';
import type { UserUseCases } from '../../application/user-use-cases.js';
import type { Result } from '../../domain/result.js';
import type { UserError } from '../../domain/user.errors.js';
import { createUserRequest, listUsersQuery, toUserResponse, updateUserRequest, userIdParams } from './user.schemas.js';

/**
 * The users API of seed 002 over HTTP: parses and validates each request with the zod schemas of
 * `user.schemas.ts` (400 `REQUEST.INVALID` naming the field), runs the use case, and answers JSON.
 * Business failures are thrown on to the app's error middleware, where `mapError` turns them into
 * problems.
 *
 * - `POST /users` → 201 with the user and `Location: /users/{id}`
 * - `GET /users?page&limit` → 200 `{data, pagination: {page, limit, total, pages}}`
 * - `GET /users/{id}` → 200 with the user
 * - `PUT /users/{id}` → 200 with the user as now stored
 * - `DELETE /users/{id}` → 204
 * - `POST /users/{id}/activate` → 200 with the activated user
 */
export function usersRouter(useCases: UserUseCases): Router {
  const router = Router();

  router.post('/users', async (req, res) => {
    const body = validate(createUserRequest, req.body, 'body');
    const user = unwrap(await useCases.createUser.execute(body));
    res.status(201).location(`/users/${user.id}`).json(toUserResponse(user));
  });

  router.get('/users', async (req, res) => {
    const query = validate(listUsersQuery, req.query, 'query');
    const page = await useCases.listUsers.execute(query);
    res.json({
      data: page.users.map(toUserResponse),
      pagination: { page: page.page, limit: page.limit, total: page.total, pages: page.pages },
    });
  });

  router.get('/users/:id', async (req, res) => {
    const { id } = validate(userIdParams, req.params, 'params');
    res.json(toUserResponse(unwrap(await useCases.getUser.execute(id))));
  });

  router.put('/users/:id', async (req, res) => {
    const { id } = validate(userIdParams, req.params, 'params');
    const changes = validate(updateUserRequest, req.body, 'body');
    res.json(toUserResponse(unwrap(await useCases.updateUser.execute({ id, ...changes }))));
  });

  router.delete('/users/:id', async (req, res) => {
    const { id } = validate(userIdParams, req.params, 'params');
    unwrap(await useCases.deleteUser.execute(id));
    res.status(204).end();
  });

  router.post('/users/:id/activate', async (req, res) => {
    const { id } = validate(userIdParams, req.params, 'params');
    res.json(toUserResponse(unwrap(await useCases.activateUser.execute(id))));
  });

  return router;
}

/** The value of a successful result; a failure is thrown to the error middleware (`mapError`). */
function unwrap<T>(result: Result<T, UserError>): T {
  if (!result.ok) throw result.error;
  return result.value;
}
