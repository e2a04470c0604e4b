import { afterEach, describe, expect, it } from 'vitest';
import { call, cleanUp, instance, serve, startGateway } from './testing/gateway-harness.js';

afterEach(cleanUp, 5_000);

const usersDocument = {
  openapi: '3.0.3',
  info: { title: 'User Service API', version: '1.0.0', description: 'Users <and> more' },
  paths: {
    '/users': { get: { summary: 'List users' }, post: { summary: 'Create user' } },
    '/users/{id}': { get: { summary: 'Get user' }, delete: { summary: 'Delete user' } },
  },
  components: { schemas: { User: { type: 'object' } } },
};
const ordersDocument = {
  openapi: '3.0.3',
  info: { title: 'Order Service API', version: '1.0.0' },
  paths: {
    '/products': { get: { summary: 'List products' } },
    '/orders': { post: { summary: 'Place order' } },
    '/sagas/{id}': { get: { summary: 'Saga for operators' } },
  },
};

async function serviceWithDocument(document: object) {
  return serve((req, res) => {
    if (req.url === '/openapi.json') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document));
    else res.writeHead(404).end();
  });
}

async function gatewayWithDocs() {
  const users = await serviceWithDocument(usersDocument);
  const orders = await serviceWithDocument(ordersDocument);
  // payment-service has no instance: its documentation is unavailable.
  return startGateway({ 'user-service': [instance('user-service', users.port)], 'order-service': [instance('order-service', orders.port)], 'payment-service': [] });
}

describe('GET /docs', () => {
  it('lists every routed service with its operations at their public paths and who may call them, without a token', async () => {
    const gateway = await gatewayWithDocs();
    const page = await call(`${gateway}/docs`, {}, null);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('User Service API');
    expect(page.text).toContain('Users &lt;and&gt; more');
    expect(page.text).toMatch(/GET<\/td><td><code>\/api\/users<\/code><\/td><td>List users<\/td><td><span class="public">public/);
    expect(page.text).toMatch(/POST<\/td><td><code>\/api\/users<\/code><\/td><td>Create user<\/td><td><span class="token">token with <code>users:write/);
    expect(page.text).toMatch(/POST<\/td><td><code>\/api\/orders<\/code>.*orders:write/);
    expect(page.text).toMatch(/<code>\/sagas\/\{id\}<\/code>.*not routed/);
    expect(page.text).toContain('href="/docs/order-service/openapi.json"');
    expect(page.text).toMatch(/payment-service[\s\S]*Documentation unavailable right now/);
    // Self-contained: nothing to load from elsewhere.
    expect(page.text).not.toMatch(/<script|src="http|href="http/);
  });
});

describe('GET /docs/{service}/openapi.json', () => {
  it('serves the service document as seen through the gateway: servers, bearer security and scopes', async () => {
    const gateway = await gatewayWithDocs();
    const answer = await call(`${gateway}/docs/user-service/openapi.json`, {}, null);
    expect(answer.status).toBe(200);
    const document = answer.json() as { servers: unknown; paths: Record<string, Record<string, Record<string, unknown>>>; components: Record<string, Record<string, unknown>> };
    expect(document.servers).toEqual([{ url: '/api', description: 'through the API gateway' }]);
    expect(document.paths['/users']?.['get']).toEqual({ summary: 'List users' });
    expect(document.paths['/users']?.['post']).toEqual({ summary: 'Create user', security: [{ bearerAuth: [] }], 'x-required-scope': 'users:write' });
    expect(document.components['schemas']).toEqual({ User: { type: 'object' } });
    expect(document.components['securitySchemes']?.['bearerAuth']).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('answers 404 problem+json for a service the routing table does not know, and 503 for one that is down', async () => {
    const gateway = await gatewayWithDocs();
    const unknown = await call(`${gateway}/docs/nope/openapi.json`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(unknown.json()).toMatchObject({ code: 'DOCS.UNKNOWN_SERVICE' });
    const down = await call(`${gateway}/docs/payment-service/openapi.json`);
    expect(down.status).toBe(503);
    expect(down.json()).toMatchObject({ code: 'GATEWAY.NO_HEALTHY_INSTANCE' });
  });
});
