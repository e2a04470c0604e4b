import { openApi, type JsonObject } from '@msr/service-defaults';
import { maxPageSize } from '../../application/list-users/list-users.service.js';
import {
  createUserRequest,
  pageNumber,
  pageSize,
  paginationResponse,
  problemResponse,
  updateUserRequest,
  userIdParams,
  userListResponse,
  userResponse,
} from './user.schemas.js';

const { components, parameterSchema, json } = openApi;

const problem = openApi.problem;

/**
 * The OpenAPI 3.0 document of the users API served at `GET /openapi.json`: seed 002's document
 * made precise (problem answers, activation, pagination bounds), generated from the very zod
 * schemas the router validates with, so the two cannot drift apart.
 */
export function buildOpenApiDocument(): JsonObject {
  const idParameter = { name: 'id', in: 'path', required: true, schema: parameterSchema(userIdParams.shape.id) };
  return {
    openapi: '3.0.3',
    info: {
      title: 'User Service API',
      version: '1.0.0',
      description: 'User management microservice (seed 002). Unknown fields in bodies and query strings are rejected with 400.',
    },
    paths: {
      '/users': {
        get: {
          summary: 'List users, oldest first',
          parameters: [
            { name: 'page', in: 'query', schema: { ...parameterSchema(pageNumber), default: 1 } },
            { name: 'limit', in: 'query', schema: { ...parameterSchema(pageSize), default: 10 }, description: `1-${maxPageSize}` },
          ],
          responses: { '200': { description: 'List of users', content: json('UserList') }, '400': problem('Bad page or limit') },
        },
        post: {
          summary: 'Create user (pending)',
          requestBody: { required: true, content: json('CreateUserRequest') },
          responses: {
            '201': {
              description: 'User created',
              headers: { Location: { schema: { type: 'string' }, description: '/users/{id}' } },
              content: json('User'),
            },
            '400': problem('Invalid body, e-mail (USER.INVALID_EMAIL) or name (USER.INVALID_NAME)'),
            '409': problem('E-mail taken (USER.EMAIL_TAKEN)'),
          },
        },
      },
      '/users/{id}': {
        parameters: [idParameter],
        get: {
          summary: 'Get user by id',
          responses: { '200': { description: 'User details', content: json('User') }, '400': problem('Id is not a UUID'), '404': problem('User not found') },
        },
        put: {
          summary: 'Update user name and/or status',
          requestBody: { required: true, content: json('UpdateUserRequest') },
          responses: {
            '200': { description: 'User updated', content: json('User') },
            '400': problem('Invalid body or id'),
            '404': problem('User not found'),
            '409': problem('Status transition not allowed (USER.INVALID_STATUS_TRANSITION)'),
          },
        },
        delete: {
          summary: 'Delete user',
          responses: { '204': { description: 'User deleted' }, '400': problem('Id is not a UUID'), '404': problem('User not found') },
        },
      },
      '/users/{id}/activate': {
        parameters: [idParameter],
        post: {
          summary: 'Activate a pending user',
          responses: {
            '200': { description: 'User activated', content: json('User') },
            '400': problem('Id is not a UUID'),
            '404': problem('User not found'),
            '409': problem('User is not pending (USER.NOT_PENDING)'),
          },
        },
      },
    },
    components: {
      schemas: {
        ...components({ CreateUserRequest: createUserRequest, UpdateUserRequest: updateUserRequest }, 'input'),
        ...components({ User: userResponse, Pagination: paginationResponse, UserList: userListResponse, Problem: problemResponse }, 'output'),
      },
    },
  };
}
