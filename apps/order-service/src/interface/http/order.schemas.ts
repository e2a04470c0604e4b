import { sagaStatuses } from '@msr/saga';
import { z } from 'zod';
import { maxLinesPerOrder } from '../../domain/order.entity.js';
import { maxQuantityPerLine } from '../../domain/order-line.value-object.js';

/**
 * Body of `POST /orders`. Prices are not accepted: they come from the catalog. One SKU on two
 * lines is rejected (400) rather than merged, so a client bug does not silently double a quantity.
 */
export const placeOrderBody = z.object({
  user_id: z.uuid({ error: 'user_id must be a UUID' }),
  items: z
    .array(
      z.object({
        sku: z.string().trim().min(1, { error: 'sku must not be empty' }).max(64),
        quantity: z
          .number({ error: 'quantity must be a number' })
          .int({ error: 'quantity must be a whole number' })
          .min(1, { error: 'quantity must be at least 1' })
          .max(maxQuantityPerLine, { error: `quantity must be at most ${maxQuantityPerLine}` }),
      }),
      { error: 'items must be an array of {sku, quantity}' },
    )
    .min(1, { error: 'items must not be empty' })
    .max(maxLinesPerOrder, { error: `items must have at most ${maxLinesPerOrder} entries` })
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
      items.forEach((item, index) => {
        if (seen.has(item.sku)) ctx.addIssue({ code: 'custom', path: [index, 'sku'], message: `duplicate sku ${item.sku}: put each SKU on one line` });
        seen.add(item.sku);
      });
    }),
});

/** Path of `GET /orders/{id}` and `GET /sagas/{id}`. */
export const idParams = z.object({ id: z.uuid({ error: 'id must be a UUID' }) });

/** Query of `GET /orders`. */
export const listOrdersQuery = z.object({ user_id: z.uuid({ error: 'user_id must be a UUID' }) });

/** Most sagas one `GET /sagas` returns. */
export const maxListedSagas = 1_000;

const durationUnits = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Query of `GET /sagas`: `status` (a saga status), `type` (definition name, e.g. `place-order`),
 * `older_than` (a duration such as `30s`, `5m`, `2h`, `1d`, `500ms`: only sagas started longer ago,
 * e.g. stuck ones), `limit` (1-1000, default 100).
 */
export const listSagasQuery = z.strictObject({
  status: z.enum(sagaStatuses, { error: `status must be one of ${sagaStatuses.join(', ')}` }).optional(),
  type: z.string().min(1).max(100).optional(),
  older_than: z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, { error: 'older_than must be a duration such as 30s, 5m, 2h or 1d' })
    .transform((text) => {
      const [, amount, unit] = /^(\d+)(ms|s|m|h|d)$/.exec(text) as unknown as [string, string, keyof typeof durationUnits];
      return Number(amount) * durationUnits[unit];
    })
    .optional(),
  limit: z
    .string()
    .regex(/^\d+$/, { error: 'limit must be a whole number' })
    .transform(Number)
    .pipe(z.number().int().min(1).max(maxListedSagas))
    .default(100),
});
