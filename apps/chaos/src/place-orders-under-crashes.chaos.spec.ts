import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublicApi, startSystem, type RunningSystem } from '@msr/system';
import { freePort } from '@msr/infra';
import { logDirectory, OwnKafka, report, seconds, serviceDatabases, waitFor, type ServiceDatabases } from './support.js';

/**
 * The chaos suite of issue 5: 200 orders placed through the gateway while payment-service and
 * order-service are each `kill -9`ed and restarted and the Kafka broker restarts, then the
 * books are checked straight in the service databases. Tests run in order and share one system.
 */
const orderCount = 200;
/** Orders are spread over this long (load shaping, not a wait for anything), so the crashes land mid-flow, in ms. */
const placementSpreadMs = 20_000;
const userCount = 20;
const startingBalanceCents = 40_000;
/** The suite's own catalog: prices in cents and starting stock. The rarity runs out, and balances run short: some orders are rejected. */
const chaosProducts = [
  { sku: 'SKU-CHAOS-MUG', name: 'Chaos mug', price_cents: 1_500, stock: 400 },
  { sku: 'SKU-CHAOS-LAMP', name: 'Chaos lamp', price_cents: 4_000, stock: 150 },
  { sku: 'SKU-CHAOS-RARE', name: 'Chaos rarity', price_cents: 2_500, stock: 12 },
];
/**
 * The chaos schedule, relative to the first order: what happens when. order-service dies after
 * payment-service is back but before its consumer has rejoined its group (that waits out the dead
 * member's session, 6 s), so sagas are surely in flight, awaiting payment replies: a saga takes
 * tens of milliseconds here, and at another moment the crash may find none.
 */
const schedule = { killPaymentsAtMs: 3_000, paymentsDownMs: 2_000, killOrdersAtMs: 6_000, restartBrokerAtMs: 15_000 };

interface Timing {
  killedAt: number;
  restartedAt: number;
  healthyAt: number;
  resumedAt?: number;
  backlogDoneAt?: number;
  backlog?: number;
}

describe('200 orders while payment-service and order-service are killed -9 and the broker restarts', () => {
  let kafka: OwnKafka;
  let dbs: ServiceDatabases;
  let system: RunningSystem;
  let api: PublicApi;
  let userIds: string[] = [];
  const initialStock = new Map<string, number>();
  const accepted: string[] = [];
  const timings: { payments?: Timing; orders?: Timing; broker?: { stoppedAt: number; upAt: number; publishedAt?: number; consumedAt?: number } } = {};

  beforeAll(async () => {
    kafka = await OwnKafka.start();
    dbs = await serviceDatabases();
    system = await startSystem({
      kafkaBrokers: kafka.brokers.join(','),
      databaseUrls: dbs.urls,
      registryPort: await freePort(),
      gatewayPort: await freePort(),
      logDir: logDirectory(),
      env: { LOG_LEVEL: 'info' },
      appEnv: {
        gateway: { RATE_LIMIT_PER_MINUTE: '1000000' },
        'payment-service': { STARTING_BALANCE_CENTS: String(startingBalanceCents) },
        // Short enough that sagas waiting on the killed payment-service give up and refund.
        'order-service': { PAYMENT_REPLY_TIMEOUT_MS: '8000', SAGA_LEASE_MS: '3000' },
      },
    });
    api = new PublicApi(system.gatewayUrl);

    for (const product of chaosProducts) {
      await dbs.orders.query('INSERT INTO products (sku, name, price_cents, stock) VALUES ($1, $2, $3, $4)', [product.sku, product.name, product.price_cents, product.stock]);
    }
    const { rows } = await dbs.orders.query<{ sku: string; stock: number }>('SELECT sku, stock FROM products');
    for (const row of rows) initialStock.set(row.sku, row.stock);

    userIds = await Promise.all(
      Array.from({ length: userCount }, async (_, index) => {
        const user = await api.createUser(`chaos.${index}.${randomUUID().slice(0, 8)}@example.com`, `Chaos User ${index}`);
        await api.activateUser(user.id);
        await api.waitForAccount(user.id);
        return user.id;
      }),
    );
  }, 240_000);

  afterAll(async () => {
    await system?.stop();
    await dbs?.dispose();
    await kafka?.dispose();
  }, 120_000);

  /** Places one order, retrying through the gateway until it is accepted (a crashed order-service answers nothing). */
  async function placeOrder(index: number): Promise<void> {
    const userId = userIds[index % userIds.length]!;
    const skus = chaosProducts.map((product) => product.sku);
    const items = [{ sku: skus[index % skus.length]!, quantity: 1 + (index % 2) }];
    if (index % 3 === 0) items.push({ sku: skus[(index + 1) % skus.length]!, quantity: 1 });
    const deadline = Date.now() + 120_000;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const answer = await api.call<{ order_id?: string }>('POST', '/api/orders', { user_id: userId, items });
        if (answer.status === 202 && answer.body.order_id !== undefined) {
          accepted.push(answer.body.order_id);
          return;
        }
        if (answer.status < 500 && answer.status !== 429) throw new Error(`order ${index} refused: ${answer.status} ${JSON.stringify(answer.body)}`);
      } catch (error) {
        if (error instanceof Error && error.message.startsWith(`order ${index} refused`)) throw error;
      }
      if (Date.now() > deadline) throw new Error(`order ${index} not accepted within 120 s`);
      await sleep(Math.min(1_000, 50 * 2 ** attempt));
    }
  }

  async function nonFinalSagas(): Promise<string[]> {
    const { rows } = await dbs.orders.query<{ id: string }>(`SELECT id FROM saga_instances WHERE status IN ('RUNNING', 'AWAITING_REPLY', 'COMPENSATING')`);
    return rows.map((row) => row.id);
  }

  async function crashPaymentService(): Promise<void> {
    const killedAt = Date.now();
    await system.kill('payment-service');
    await sleep(schedule.paymentsDownMs);
    const restartedAt = Date.now();
    await system.restart('payment-service');
    const timing: Timing = { killedAt, restartedAt, healthyAt: Date.now() };
    timings.payments = timing;
    // Commands are handled again once the restarted consumer has joined its group.
    timing.resumedAt = await waitFor(
      'payment-service to handle a command again',
      async () => {
        const { rows } = await dbs.payments.query<{ at: Date | null }>(`SELECT min(processed_at) AS at FROM inbox WHERE consumer = 'payment-service' AND processed_at > $1`, [new Date(restartedAt)]);
        return rows[0]?.at?.getTime();
      },
      90_000,
    );
  }

  async function crashOrderService(): Promise<void> {
    const killedAt = Date.now();
    await system.kill('order-service');
    const inFlight = await nonFinalSagas();
    const restartedAt = Date.now();
    await system.restart('order-service');
    const timing: Timing = { killedAt, restartedAt, healthyAt: Date.now(), backlog: inFlight.length };
    timings.orders = timing;
    timing.resumedAt = await waitFor(
      'order-service to move a saga again',
      async () => {
        const { rows } = await dbs.orders.query<{ at: Date | null }>(`SELECT min(at) AS at FROM saga_timeline WHERE at > $1 AND event <> 'started'`, [new Date(restartedAt)]);
        return rows[0]?.at?.getTime();
      },
      90_000,
    );
    timing.backlogDoneAt = await waitFor(
      'the sagas in flight at the crash to finish',
      async () => {
        const { rows } = await dbs.orders.query<{ open: number; last: Date | null }>(
          `SELECT count(*) FILTER (WHERE finished_at IS NULL)::int AS open, max(finished_at) AS last FROM saga_instances WHERE id = ANY($1::uuid[])`,
          [inFlight],
        );
        return rows[0]?.open === 0 ? (rows[0].last?.getTime() ?? Date.now()) : undefined;
      },
      180_000,
    );
  }

  async function restartBroker(): Promise<void> {
    const stoppedAt = Date.now();
    await kafka.restart();
    const upAt = Date.now();
    timings.broker = { stoppedAt, upAt };
    timings.broker.publishedAt = await waitFor(
      'an outbox message to be published after the broker restart',
      async () => {
        const { rows } = await dbs.orders.query<{ at: Date | null }>('SELECT min(published_at) AS at FROM outbox WHERE published_at > $1', [new Date(upAt)]);
        return rows[0]?.at?.getTime();
      },
      90_000,
    );
    // Consumers come back once their group has re-formed (the members kafkajs restarted wait out the session of the old ones).
    timings.broker.consumedAt = await waitFor(
      'both consumers to handle a message after the broker restart',
      async () => {
        const since = [new Date(upAt)];
        const [payments, orders] = await Promise.all([
          dbs.payments.query<{ at: Date | null }>(`SELECT min(processed_at) AS at FROM inbox WHERE processed_at > $1`, since),
          dbs.orders.query<{ at: Date | null }>(`SELECT min(processed_at) AS at FROM inbox WHERE processed_at > $1`, since),
        ]);
        const both = [payments.rows[0]?.at, orders.rows[0]?.at];
        return both.every((at) => at != null) ? Math.max(...both.map((at) => at!.getTime())) : undefined;
      },
      90_000,
    );
  }

  it('accepts 200 orders through the gateway while payment-service and order-service are killed -9 and restarted and the broker restarts', async () => {
    const startedAt = Date.now();
    const at = (offsetMs: number) => sleep(Math.max(0, startedAt + offsetMs - Date.now()));
    const chaos = Promise.all([
      at(schedule.killPaymentsAtMs).then(crashPaymentService),
      at(schedule.killOrdersAtMs).then(crashOrderService),
      at(schedule.restartBrokerAtMs).then(restartBroker),
    ]);
    const orders = Promise.all(
      Array.from({ length: orderCount }, async (_, index) => {
        await at((index * placementSpreadMs) / orderCount);
        await placeOrder(index);
      }),
    );
    await Promise.all([orders, chaos]);
    expect(new Set(accepted).size).toBe(orderCount);
  }, 300_000);

  it('brings every order and every saga to a final status', async () => {
    await waitFor(
      'every order to be final',
      async () => {
        const { rows } = await dbs.orders.query<{ pending: number }>(`SELECT count(*)::int AS pending FROM orders WHERE status = 'PENDING'`);
        return rows[0]?.pending === 0;
      },
      180_000,
      500,
    );
    const { rows: statuses } = await dbs.orders.query<{ status: string; count: number }>('SELECT status, count(*)::int AS count FROM orders GROUP BY status ORDER BY status');
    const { rows: sagas } = await dbs.orders.query<{ status: string; count: number }>('SELECT status, count(*)::int AS count FROM saga_instances GROUP BY status ORDER BY status');
    const { rows: reasons } = await dbs.orders.query<{ reason_code: string; count: number }>(
      `SELECT reason_code, count(*)::int AS count FROM orders WHERE status = 'REJECTED' GROUP BY reason_code ORDER BY count DESC`,
    );
    report(`orders: ${statuses.map((row) => `${row.status} ${row.count}`).join(', ')}; rejected for ${reasons.map((row) => `${row.reason_code} ${row.count}`).join(', ')}`);

    const { rows: placed } = await dbs.orders.query<{ id: string }>('SELECT id FROM orders');
    expect(placed.map((row) => row.id)).toEqual(expect.arrayContaining(accepted));
    expect(await nonFinalSagas()).toEqual([]);
    expect(sagas.map((row) => row.status).filter((status) => status !== 'COMPLETED' && status !== 'COMPENSATED')).toEqual([]);
    const { rows: parked } = await dbs.orders.query('SELECT id FROM saga_instances WHERE parked_at IS NOT NULL');
    expect(parked).toEqual([]);
    // Orders and sagas agree: approved exactly when the saga completed.
    const { rows: mismatched } = await dbs.orders.query(
      `SELECT o.id FROM orders o JOIN saga_instances s ON s.id = o.saga_id WHERE (o.status = 'APPROVED') <> (s.status = 'COMPLETED')`,
    );
    expect(mismatched).toEqual([]);
  });

  it('keeps stock on hand plus reserved units equal to the initial stock, with no reservation left pending', async () => {
    const { rows } = await dbs.orders.query<{ sku: string; stock: number; held: number; pending: number }>(
      `SELECT p.sku, p.stock,
              COALESCE(sum(r.quantity) FILTER (WHERE r.status IN ('RESERVED', 'CONFIRMED')), 0)::int AS held,
              COALESCE(sum(r.quantity) FILTER (WHERE r.status = 'RESERVED'), 0)::int AS pending
         FROM products p LEFT JOIN reservations r ON r.sku = p.sku GROUP BY p.sku, p.stock ORDER BY p.sku`,
    );
    for (const row of rows) expect({ sku: row.sku, total: row.stock + row.held }).toEqual({ sku: row.sku, total: initialStock.get(row.sku) });
    expect(rows.filter((row) => row.pending > 0)).toEqual([]);
    // What was sold is exactly what the approved orders bought.
    const { rows: sold } = await dbs.orders.query<{ mismatches: number }>(
      `SELECT count(*)::int AS mismatches FROM order_items i JOIN orders o ON o.id = i.order_id
         LEFT JOIN reservations r ON r.order_id = i.order_id AND r.sku = i.sku AND r.status = 'CONFIRMED'
        WHERE (o.status = 'APPROVED') <> (r.quantity IS NOT DISTINCT FROM i.quantity)`,
    );
    expect(sold[0]?.mismatches).toBe(0);
  });

  it('moves exactly the approved totals: payments minus refunds, and the balances', async () => {
    const { rows: approved } = await dbs.orders.query<{ total: string }>(`SELECT COALESCE(sum(total_cents), 0) AS total FROM orders WHERE status = 'APPROVED'`);
    const { rows: money } = await dbs.payments.query<{ paid: string; refunded: string }>(
      `SELECT COALESCE(sum(amount_cents) FILTER (WHERE status IN ('AUTHORIZED', 'REFUNDED')), 0) AS paid,
              COALESCE(sum(amount_cents) FILTER (WHERE status = 'REFUNDED'), 0) AS refunded FROM payments`,
    );
    const { rows: balances } = await dbs.payments.query<{ accounts: number; balance: string }>('SELECT count(*)::int AS accounts, sum(balance_cents) AS balance FROM accounts');
    const approvedTotal = Number(approved[0]!.total);
    const paid = Number(money[0]!.paid);
    const refunded = Number(money[0]!.refunded);
    report(`money: approved ${approvedTotal} cents; payments ${paid} − refunds ${refunded} = ${paid - refunded}`);

    expect(paid - refunded).toBe(approvedTotal);
    expect(balances[0]!.accounts).toBe(userCount);
    expect(userCount * startingBalanceCents - Number(balances[0]!.balance)).toBe(approvedTotal);
  });

  it('charges each approved order exactly once, and no rejected order', async () => {
    const { rows: orders } = await dbs.orders.query<{ id: string; status: string; total_cents: number }>('SELECT id, status, total_cents FROM orders');
    const { rows: payments } = await dbs.payments.query<{ order_id: string; status: string; amount_cents: string }>('SELECT order_id, status, amount_cents FROM payments');
    const paymentsByOrder = new Map<string, Array<{ status: string; amount: number }>>();
    for (const payment of payments) paymentsByOrder.set(payment.order_id, [...(paymentsByOrder.get(payment.order_id) ?? []), { status: payment.status, amount: Number(payment.amount_cents) }]);

    const wrong = orders.filter((order) => {
      const charged = (paymentsByOrder.get(order.id) ?? []).filter((payment) => payment.status === 'AUTHORIZED');
      return order.status === 'APPROVED' ? charged.length !== 1 || charged[0]!.amount !== order.total_cents : charged.length !== 0;
    });
    expect(wrong).toEqual([]);
    expect(payments.every((payment) => paymentsByOrder.get(payment.order_id)!.length === 1)).toBe(true);
    const refunds = payments.filter((payment) => payment.status === 'REFUNDED').length;
    const cancelled = payments.filter((payment) => payment.status === 'DECLINED').length;
    report(`payments: ${payments.length} (${refunds} refunded, ${cancelled} declined) for ${orders.length} orders`);
  });

  it('gives no message a second effect: every inbox entry handled once, outboxes drained, nothing dead-lettered', async () => {
    for (const [name, pool] of [
      ['orders', dbs.orders],
      ['payments', dbs.payments],
    ] as const) {
      const { rows } = await pool.query<{ open: number; redelivered: number; dead: number }>(
        `SELECT count(*) FILTER (WHERE outcome = 'in_progress')::int AS open,
                count(*) FILTER (WHERE deliveries > 1)::int AS redelivered,
                (SELECT count(*)::int FROM dead_letters) AS dead
           FROM inbox`,
      );
      report(`${name} inbox: ${rows[0]!.redelivered} message(s) delivered more than once, each handled once; ${rows[0]!.dead} dead letter(s)`);
      expect(rows[0]).toMatchObject({ open: 0, dead: 0 });
    }
    for (const pool of [dbs.users, dbs.orders, dbs.payments]) {
      const unpublished = await waitFor(
        'the outboxes to drain',
        async () => {
          const { rows } = await pool.query<{ left: number }>('SELECT count(*)::int AS left FROM outbox WHERE published_at IS NULL');
          return rows[0]!.left === 0 ? 'drained' : undefined;
        },
        60_000,
      );
      expect(unpublished).toBe('drained');
    }
  });

  it('reports how long each crashed service took to resume its sagas', () => {
    const { payments, orders, broker } = timings;
    expect(payments?.resumedAt).toBeDefined();
    expect(orders?.backlogDoneAt).toBeDefined();
    // A crash that found no saga in flight would prove nothing about resuming them.
    expect(orders?.backlog).toBeGreaterThan(0);
    expect(broker?.publishedAt).toBeDefined();
    report(
      `payment-service: killed -9, restarted ${seconds(payments!.killedAt, payments!.restartedAt)} later; healthy ${seconds(payments!.restartedAt, payments!.healthyAt)} after the restart; ` +
        `handling commands again ${seconds(payments!.restartedAt, payments!.resumedAt!)} after the restart`,
    );
    report(
      `order-service: killed -9 with ${orders!.backlog} saga(s) in flight and restarted at once; healthy ${seconds(orders!.restartedAt, orders!.healthyAt)} after the restart; ` +
        `first saga step ${seconds(orders!.restartedAt, orders!.resumedAt!)} after the restart; every saga in flight at the crash final ${seconds(orders!.restartedAt, orders!.backlogDoneAt!)} after the restart`,
    );
    report(
      `kafka broker: restarted in ${seconds(broker!.stoppedAt, broker!.upAt)}; first message published ${seconds(broker!.upAt, broker!.publishedAt!)} ` +
        `and both consumers handling messages again ${seconds(broker!.upAt, broker!.consumedAt!)} after it was back`,
    );
  });
});
