import { validate } from '@msr/service-defaults';
import { Router } from 'express';
import type { PlaceOrderService } from '../../application/place-order/place-order.service.js';
import type { OrderQueries } from '../../application/queries/order.queries.js';
import { idParams, listOrdersQuery, placeOrderBody } from './order.schemas.js';
import { orderJson, productJson } from './representations.js';

/** What the order-service routes need. */
export interface OrdersRouterDeps {
  placeOrder: PlaceOrderService;
  queries: OrderQueries;
}

/**
 * The order-service API (SYSTEM.md, order-service):
 * - `GET /products` → `{data: [{sku, name, price_cents, stock}]}`
 * - `POST /orders {user_id, items: [{sku, quantity}]}` → 202 `{order_id, status: 'PENDING', saga_id}`
 *   with `Location: /orders/{id}`; 400 for invalid input, 422 `ORDER.UNKNOWN_SKU` naming the SKUs
 * - `GET /orders/{id}` → the order with its saga's step log; 404 `ORDER.NOT_FOUND`
 * - `GET /orders?user_id=` → `{data: [order, ...]}`, newest first
 *
 * The saga endpoints for operators are in `sagas.router.ts`.
 */
export function ordersRouter(deps: OrdersRouterDeps): Router {
  const router = Router();

  router.get('/products', async (_req, res) => {
    res.json({ data: (await deps.queries.listProducts()).map(productJson) });
  });

  router.post('/orders', async (req, res) => {
    const body = validate(placeOrderBody, req.body, 'body');
    const { order, sagaId } = await deps.placeOrder.placeOrder({ userId: body.user_id, items: body.items });
    res.status(202).location(`/orders/${order.id}`).json({ order_id: order.id, status: order.status, saga_id: sagaId });
  });

  router.get('/orders', async (req, res) => {
    const query = validate(listOrdersQuery, req.query, 'query');
    res.json({ data: (await deps.queries.listOrders(query.user_id)).map(orderJson) });
  });

  router.get('/orders/:id', async (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    res.json(orderJson(await deps.queries.getOrder(id)));
  });

  return router;
}
