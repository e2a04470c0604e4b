import type { Server } from 'node:http';
import { eventsMigrations } from '@msr/events';
import { createTestDatabase, type TestDatabase } from '@msr/infra';
import { closeServer, createLogger, createPool, Health, listen, Metrics, migrate } from '@msr/service-defaults';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { createUserUseCases } from './application/user-use-cases.js';
import { PgUserRepository } from './infrastructure/pg-user.repository.js';
import { userServiceMigrations } from './infrastructure/user-service.migrations.js';
import { problemResponse, userListResponse, userResponse, type UserResponse } from './interface/http/user.schemas.js';

const logger = createLogger({ service: 'user-service-test', level: 'silent' });
let database: TestDatabase;
let pool: pg.Pool;
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  database = await createTestDatabase('user_http');
  pool = createPool(database.url, logger);
  await migrate(pool, [eventsMigrations, userServiceMigrations], logger);
  const health = new Health().addCheck('postgres', async () => {
    await pool.query('SELECT 1');
  });
  const app = createApp({ logger, health, metrics: new Metrics('user-service'), users: createUserUseCases(new PgUserRepository(pool)) });
  const listening = await listen(app, 0, '127.0.0.1');
  server = listening.server;
  baseUrl = `http://127.0.0.1:${listening.port}`;
});

afterAll(async () => {
  if (server) await closeServer(server);
  await pool?.end();
  await database?.drop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE users, outbox');
});

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

async function call(method: string, path: string, body?: unknown, init: { raw?: string } = {}): Promise<Answer> {
  const payload = init.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: payload === undefined ? {} : { 'content-type': 'application/json' },
    body: payload,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}

async function createUser(email = 'ada@example.com', name = 'Ada'): Promise<UserResponse> {
  const answer = await call('POST', '/users', { email, name });
  expect(answer.status).toBe(201);
  return userResponse.parse(answer.body);
}

/** Asserts a problem+json answer with this status and code; returns the parsed problem. */
function expectProblem(answer: Answer, status: number, code: string, field?: string) {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = problemResponse.parse(answer.body);
  expect(problem.code).toBe(code);
  if (field !== undefined) expect(problem.invalid_params?.map((param) => param.name)).toContain(field);
  return problem;
}

async function counts(): Promise<{ users: number; outbox: number }> {
  const { rows } = await pool.query<{ users: number; outbox: number }>('SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM outbox) AS outbox');
  return rows[0]!;
}

async function outboxTypes(userId: string): Promise<string[]> {
  const { rows } = await pool.query<{ type: string }>('SELECT type FROM outbox WHERE key = $1 ORDER BY seq', [userId]);
  return rows.map((row) => row.type);
}

const unknownId = '7d0f6a32-4c1e-4d5b-8f6a-2e9b1c3d4e5f';

describe('POST /users', () => {
  it('creates a pending user: 201, Location, snake_case body, and user.created in the outbox', async () => {
    const answer = await call('POST', '/users', { email: ' Ada@Example.COM ', name: '  Ada Lovelace ' });
    expect(answer.status).toBe(201);
    const user = userResponse.parse(answer.body);
    expect(user).toMatchObject({ email: 'ada@example.com', name: 'Ada Lovelace', status: 'pending' });
    expect(user.created_at).toBe(user.updated_at);
    expect(answer.headers.get('location')).toBe(`/users/${user.id}`);
    expect(await outboxTypes(user.id)).toEqual(['user.created']);
  });

  it.each([
    ['an invalid e-mail', { email: 'not-an-email', name: 'Ada' }, 'USER.INVALID_EMAIL', 'email'],
    ['an e-mail over 254 characters', { email: `${'a'.repeat(60)}@${'b'.repeat(200)}.com`, name: 'Ada' }, 'USER.INVALID_EMAIL', 'email'],
    ['a blank name', { email: 'ada@example.com', name: '   ' }, 'USER.INVALID_NAME', 'name'],
    ['a name over 200 characters', { email: 'ada@example.com', name: 'n'.repeat(201) }, 'USER.INVALID_NAME', 'name'],
    ['a missing name', { email: 'ada@example.com' }, 'REQUEST.INVALID', 'name'],
    ['a missing e-mail', { name: 'Ada' }, 'REQUEST.INVALID', 'email'],
    ['a wrongly typed e-mail', { email: 42, name: 'Ada' }, 'REQUEST.INVALID', 'email'],
    ['an unknown field', { email: 'ada@example.com', name: 'Ada', role: 'admin' }, 'REQUEST.INVALID', undefined],
    ['a body that is not an object', ['ada@example.com'], 'REQUEST.INVALID', undefined],
  ])('answers 400 for %s and writes nothing', async (_case, body, code, field) => {
    const problem = expectProblem(await call('POST', '/users', body), 400, code, field);
    if (_case === 'an unknown field') expect(problem.detail).toContain('role');
    expect(await counts()).toEqual({ users: 0, outbox: 0 });
  });

  it('answers 400 REQUEST.MALFORMED_JSON for a body that is not JSON', async () => {
    expectProblem(await call('POST', '/users', undefined, { raw: '{"email": ' }), 400, 'REQUEST.MALFORMED_JSON');
    expect(await counts()).toEqual({ users: 0, outbox: 0 });
  });

  it('answers 400 when there is no JSON body at all', async () => {
    expectProblem(await call('POST', '/users'), 400, 'REQUEST.INVALID', 'body');
  });

  it('answers 409 USER.EMAIL_TAKEN for an e-mail taken in another case, writing nothing more', async () => {
    await createUser('grace@example.com');
    expectProblem(await call('POST', '/users', { email: 'GRACE@example.com', name: 'Grace' }), 409, 'USER.EMAIL_TAKEN', 'email');
    expect(await counts()).toEqual({ users: 1, outbox: 1 });
  });

  it('gives one 201 and otherwise 409 for concurrent sign-ups with one e-mail', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => call('POST', '/users', { email: 'race@example.com', name: 'Racer' })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    expect(await counts()).toEqual({ users: 1, outbox: 1 });
  });
});

describe('GET /users', () => {
  beforeEach(async () => {
    for (let i = 0; i < 12; i += 1) await createUser(`user${String(i).padStart(2, '0')}@example.com`, `User ${i}`);
  });

  it('answers the first 10 users oldest first with pagination by default', async () => {
    const answer = await call('GET', '/users');
    expect(answer.status).toBe(200);
    const list = userListResponse.parse(answer.body);
    expect(list.pagination).toEqual({ page: 1, limit: 10, total: 12, pages: 2 });
    expect(list.data.map((user) => user.email)).toEqual(Array.from({ length: 10 }, (_, i) => `user${String(i).padStart(2, '0')}@example.com`));
  });

  it('answers the requested page and size', async () => {
    const list = userListResponse.parse((await call('GET', '/users?page=3&limit=5')).body);
    expect(list.pagination).toEqual({ page: 3, limit: 5, total: 12, pages: 3 });
    expect(list.data.map((user) => user.email)).toEqual(['user10@example.com', 'user11@example.com']);
  });

  it('answers an empty page past the end', async () => {
    const list = userListResponse.parse((await call('GET', '/users?page=9&limit=100')).body);
    expect(list).toEqual({ data: [], pagination: { page: 9, limit: 100, total: 12, pages: 1 } });
  });

  it.each([
    ['page=0', 'page'],
    ['page=-1', 'page'],
    ['page=1.5', 'page'],
    ['page=abc', 'page'],
    ['page=', 'page'],
    ['page=1&page=2', 'page'],
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=ten', 'limit'],
    ['sort=name', undefined],
  ])('answers 400 naming the parameter for ?%s', async (query, field) => {
    const problem = expectProblem(await call('GET', `/users?${query}`), 400, 'REQUEST.INVALID', field);
    if (field === undefined) expect(problem.detail).toContain('sort');
  });
});

describe('GET /users/{id}', () => {
  it('answers the user', async () => {
    const user = await createUser();
    const answer = await call('GET', `/users/${user.id}`);
    expect(answer.status).toBe(200);
    expect(userResponse.parse(answer.body)).toEqual(user);
  });

  it('answers 400 naming id when it is not a UUID', async () => {
    expectProblem(await call('GET', '/users/not-a-uuid'), 400, 'REQUEST.INVALID', 'id');
  });

  it('answers 404 USER.NOT_FOUND for an unknown id', async () => {
    expectProblem(await call('GET', `/users/${unknownId}`), 404, 'USER.NOT_FOUND');
  });
});

describe('PUT /users/{id}', () => {
  it('changes name and status, bumps updated_at and enqueues user.updated', async () => {
    const user = await createUser();
    const answer = await call('PUT', `/users/${user.id}`, { name: ' Countess ', status: 'active' });
    expect(answer.status).toBe(200);
    const updated = userResponse.parse(answer.body);
    expect(updated).toMatchObject({ id: user.id, email: user.email, name: 'Countess', status: 'active', created_at: user.created_at });
    expect(Date.parse(updated.updated_at)).toBeGreaterThanOrEqual(Date.parse(user.updated_at));
    expect(userResponse.parse((await call('GET', `/users/${user.id}`)).body)).toEqual(updated);
    expect(await outboxTypes(user.id)).toEqual(['user.created', 'user.updated']);
  });

  it('changes only the name when only the name is given', async () => {
    const user = await createUser();
    const updated = userResponse.parse((await call('PUT', `/users/${user.id}`, { name: 'Lady Ada' })).body);
    expect(updated).toMatchObject({ name: 'Lady Ada', status: 'pending' });
  });

  it('answers 200 without a new event when nothing changes', async () => {
    const user = await createUser();
    const answer = await call('PUT', `/users/${user.id}`, { name: user.name });
    expect(userResponse.parse(answer.body)).toEqual(user);
    expect(await outboxTypes(user.id)).toEqual(['user.created']);
  });

  it.each([
    ['an empty body', {}, 'REQUEST.INVALID', undefined],
    ['an unknown status', { status: 'banned' }, 'REQUEST.INVALID', 'status'],
    ['a wrongly typed name', { name: 7 }, 'REQUEST.INVALID', 'name'],
    ['a blank name', { name: ' ' }, 'USER.INVALID_NAME', 'name'],
    ['an unknown field', { email: 'new@example.com' }, 'REQUEST.INVALID', undefined],
  ])('answers 400 for %s and changes nothing', async (_case, body, code, field) => {
    const user = await createUser();
    expectProblem(await call('PUT', `/users/${user.id}`, body), 400, code, field);
    expect(userResponse.parse((await call('GET', `/users/${user.id}`)).body)).toEqual(user);
    expect(await outboxTypes(user.id)).toEqual(['user.created']);
  });

  it('answers 409 USER.INVALID_STATUS_TRANSITION when sending an active user back to pending', async () => {
    const user = await createUser();
    await call('POST', `/users/${user.id}/activate`);
    expectProblem(await call('PUT', `/users/${user.id}`, { status: 'pending' }), 409, 'USER.INVALID_STATUS_TRANSITION', 'status');
  });

  it('answers 400 for a bad id and 404 for an unknown one', async () => {
    expectProblem(await call('PUT', '/users/123', { name: 'X' }), 400, 'REQUEST.INVALID', 'id');
    expectProblem(await call('PUT', `/users/${unknownId}`, { name: 'X' }), 404, 'USER.NOT_FOUND');
  });
});

describe('DELETE /users/{id}', () => {
  it('answers 204, the user is gone, user.deleted is enqueued and a second delete answers 404', async () => {
    const user = await createUser();
    const answer = await call('DELETE', `/users/${user.id}`);
    expect(answer.status).toBe(204);
    expect(answer.body).toBeUndefined();
    expectProblem(await call('GET', `/users/${user.id}`), 404, 'USER.NOT_FOUND');
    expect(await outboxTypes(user.id)).toEqual(['user.created', 'user.deleted']);
    expectProblem(await call('DELETE', `/users/${user.id}`), 404, 'USER.NOT_FOUND');
  });

  it('frees the e-mail for a new sign-up', async () => {
    const user = await createUser('reuse@example.com');
    await call('DELETE', `/users/${user.id}`);
    await createUser('reuse@example.com');
  });

  it('answers 400 for a bad id', async () => {
    expectProblem(await call('DELETE', '/users/x'), 400, 'REQUEST.INVALID', 'id');
  });
});

describe('POST /users/{id}/activate', () => {
  it('activates a pending user and enqueues user.updated', async () => {
    const user = await createUser();
    const answer = await call('POST', `/users/${user.id}/activate`);
    expect(answer.status).toBe(200);
    expect(userResponse.parse(answer.body)).toMatchObject({ id: user.id, status: 'active' });
    expect(await outboxTypes(user.id)).toEqual(['user.created', 'user.updated']);
  });

  it('answers 409 USER.NOT_PENDING for a user that is not pending', async () => {
    const user = await createUser();
    await call('POST', `/users/${user.id}/activate`);
    expectProblem(await call('POST', `/users/${user.id}/activate`), 409, 'USER.NOT_PENDING');
    await call('PUT', `/users/${user.id}`, { status: 'inactive' });
    expectProblem(await call('POST', `/users/${user.id}/activate`), 409, 'USER.NOT_PENDING');
  });

  it('activates once when asked concurrently: one 200, the rest 409, one event', async () => {
    const user = await createUser();
    const answers = await Promise.all(Array.from({ length: 5 }, () => call('POST', `/users/${user.id}/activate`)));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409, 409, 409, 409]);
    // The losers re-read the user and are refused for the state they find, not for the race.
    for (const answer of answers.filter((answer) => answer.status === 409)) expectProblem(answer, 409, 'USER.NOT_PENDING');
    expect(await outboxTypes(user.id)).toEqual(['user.created', 'user.updated']);
  });

  it('answers 404 for an unknown user and 400 for a bad id', async () => {
    expectProblem(await call('POST', `/users/${unknownId}/activate`), 404, 'USER.NOT_FOUND');
    expectProblem(await call('POST', '/users/nope/activate'), 400, 'REQUEST.INVALID', 'id');
  });
});

describe('service endpoints', () => {
  it('publishes an OpenAPI 3 document built from the request schemas', async () => {
    const answer = await call('GET', '/openapi.json');
    expect(answer.status).toBe(200);
    const document = answer.body as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, { required?: string[]; additionalProperties?: unknown }> } };
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(['/users', '/users/{id}', '/users/{id}/activate']);
    expect(document.components.schemas['CreateUserRequest']).toMatchObject({ required: ['email', 'name'], additionalProperties: false });
    expect(document.components.schemas['User']?.required).toEqual(['id', 'email', 'name', 'status', 'created_at', 'updated_at']);
  });

  it('answers /health 200 while PostgreSQL answers', async () => {
    expect((await call('GET', '/health')).status).toBe(200);
  });

  it('answers unknown routes with 404 problem+json', async () => {
    expectProblem(await call('GET', '/nothing-here'), 404, 'ROUTE.NOT_FOUND');
  });
});
