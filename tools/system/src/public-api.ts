import { mintDevToken } from './dev-token.js';

/** A user as user-service answers it. */
export interface UserView {
  id: string;
  email: string;
  name: string;
  status: 'pending' | 'active' | 'inactive';
}

/** A catalog entry as order-service answers it. */
export interface ProductView {
  sku: string;
  name: string;
  price_cents: number;
  stock: number;
}

/** One entry of a saga's step log. */
export interface SagaStepView {
  step: string;
  direction: string;
  outcome: string;
  attempts: number;
  duration_ms: number | null;
  error?: string | null;
}

/** An order with its saga, as order-service answers it. */
export interface OrderView {
  id: string;
  user_id: string;
  status: 'PENDING' | 'APPROVED' | 'REJECTED';
  reason_code?: string | null;
  reason?: string | null;
  total_cents: number;
  saga?: { id: string; status: string; steps: SagaStepView[] };
}

/** An answer: status, content type and parsed JSON body (undefined when empty). */
export interface ApiResponse<T> {
  status: number;
  contentType: string;
  body: T;
  headers: Headers;
}

/** Options of {@link PublicApi}. */
export interface PublicApiOptions {
  /**
   * The bearer token to send: a string, or `null` to call anonymously. Default: a development
   * token with every scope, minted on first use ({@link mintDevToken}).
   */
  token?: string | null;
}

/**
 * A small typed client of the public API, used by the demo and the end-to-end tests. It talks
 * only to the gateway, over HTTP, as an outside client would, with a bearer token.
 */
export class PublicApi {
  private token: Promise<string | null> | undefined;

  constructor(
    readonly baseUrl: string,
    private readonly options: PublicApiOptions = {},
  ) {}

  /** The same API as another caller: another token, or `null` for none. */
  as(token: string | null): PublicApi {
    return new PublicApi(this.baseUrl, { token });
  }

  /** Sends one request; never throws for HTTP error statuses. */
  async call<T = unknown>(method: string, path: string, body?: unknown, rawBody?: string): Promise<ApiResponse<T>> {
    const token = await this.bearerToken();
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined && rawBody === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      },
      body: rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      body: (text === '' ? undefined : JSON.parse(text)) as T,
      headers: response.headers,
    };
  }

  private bearerToken(): Promise<string | null> {
    this.token ??= this.options.token === undefined ? mintDevToken() : Promise.resolve(this.options.token);
    return this.token;
  }

  private async expect<T>(status: number, method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.call<T>(method, path, body);
    if (response.status !== status) {
      throw new Error(`${method} ${path}: expected ${status}, got ${response.status} ${JSON.stringify(response.body)}`);
    }
    return response.body;
  }

  createUser(email: string, name: string): Promise<UserView> {
    return this.expect(201, 'POST', '/api/users', { email, name });
  }

  activateUser(id: string): Promise<UserView> {
    return this.expect(200, 'POST', `/api/users/${id}/activate`);
  }

  async products(): Promise<ProductView[]> {
    return (await this.expect<{ data: ProductView[] }>(200, 'GET', '/api/products')).data;
  }

  async stockOf(sku: string): Promise<number> {
    const product = (await this.products()).find((p) => p.sku === sku);
    if (!product) throw new Error(`no product ${sku}`);
    return product.stock;
  }

  /** Places an order; resolves with the order id from the 202 answer. */
  async placeOrder(userId: string, items: Array<{ sku: string; quantity: number }>): Promise<string> {
    return (await this.expect<{ order_id: string }>(202, 'POST', '/api/orders', { user_id: userId, items })).order_id;
  }

  order(id: string): Promise<OrderView> {
    return this.expect(200, 'GET', `/api/orders/${id}`);
  }

  /** Polls an order until it is APPROVED or REJECTED; fails after `timeoutMs`. */
  async waitForFinalOrder(id: string, timeoutMs = 30_000): Promise<OrderView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const order = await this.order(id);
      if (order.status !== 'PENDING') return order;
      if (Date.now() > deadline) throw new Error(`order ${id} still PENDING after ${timeoutMs} ms: ${JSON.stringify(order.saga)}`);
      // Polled often enough that the demo's placed-to-final latency is not mostly polling delay.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Polls until payment-service has opened the user's account (it reacts to `user.created`). */
  async waitForAccount(userId: string, timeoutMs = 30_000): Promise<{ balance_cents: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await this.call<{ balance_cents: number }>('GET', `/api/accounts/${userId}`);
      if (response.status === 200) return response.body;
      if (Date.now() > deadline) throw new Error(`no account for ${userId} after ${timeoutMs} ms (last status ${response.status})`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
