/**
 * `npm run demo`: brings up Kafka and the databases, builds and starts the five apps as separate
 * processes, waits until all are registered and healthy, and runs the PlaceOrder scenario through
 * the gateway: one order approved, one rejected for insufficient funds (inventory released), one
 * rejected because the user is not active. Prints a report of each order and its saga's step log,
 * then keeps everything running until Ctrl-C. `npm run demo -- --once` exits after the scenario:
 * 0 only if every expectation held.
 *
 * With `GATEWAY_URL` set (the `demo` service of docker-compose.yml sets it) nothing is started:
 * the scenario runs against that gateway, after waiting until the registry at `REGISTRY_URL`
 * (when set) lists every service as healthy, and the exit code is the scenario's.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bringUpInfrastructure, databaseUrl } from '@msr/infra';
import { appNames, buildApps, mintDevToken, PublicApi, startSystem, type OrderView, type RunningSystem } from '@msr/system';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const once = process.argv.includes('--once');

interface Expectation {
  what: string;
  held: boolean;
  detail: string;
}

function formatMs(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : `${ms} ms`;
}

function printOrder(title: string, order: OrderView, placedToFinalMs: number): void {
  console.log(`\n${title}`);
  console.log(`  order ${order.id}: ${order.status}${order.reason_code ? ` (${order.reason_code}: ${order.reason})` : ''}`);
  console.log(`  total ${(order.total_cents / 100).toFixed(2)} USD, final after ${placedToFinalMs} ms`);
  console.log(`  saga ${order.saga?.id ?? '-'}: ${order.saga?.status ?? '-'}`);
  console.table(
    (order.saga?.steps ?? []).map((step) => ({
      step: step.step,
      direction: step.direction,
      outcome: step.outcome,
      attempts: step.attempts,
      duration: formatMs(step.duration_ms),
      error: step.error ?? '',
    })),
  );
}

async function runScenario(api: PublicApi): Promise<{ expectations: Expectation[]; latenciesMs: number[] }> {
  const expectations: Expectation[] = [];
  const latenciesMs: number[] = [];
  const expect = (what: string, held: boolean, detail: string) => expectations.push({ what, held, detail });
  const place = async (userId: string, sku: string, quantity: number) => {
    const started = Date.now();
    const order = await api.waitForFinalOrder(await api.placeOrder(userId, [{ sku, quantity }]));
    latenciesMs.push(Date.now() - started);
    return { order, ms: Date.now() - started };
  };
  const runId = Date.now().toString(36);

  console.log('\n== Scenario: everything through the gateway at', api.baseUrl);
  const ada = await api.createUser(`ada.${runId}@example.com`, 'Ada Lovelace');
  await api.activateUser(ada.id);
  const account = await api.waitForAccount(ada.id);
  console.log(`created and activated user ${ada.email} (${ada.id}); payment-service opened an account with ${account.balance_cents} cents`);

  const products = await api.products();
  console.log('\nproducts:');
  console.table(products.map((p) => ({ sku: p.sku, name: p.name, price: (p.price_cents / 100).toFixed(2), stock: p.stock })));

  const approved = await place(ada.id, 'SKU-BOOK', 1);
  printOrder('1. An order the user can pay for', approved.order, approved.ms);
  expect('order 1 APPROVED', approved.order.status === 'APPROVED', approved.order.status);

  const laptopStock = await api.stockOf('SKU-LAPTOP');
  const balanceBefore = (await api.waitForAccount(ada.id)).balance_cents;
  const declined = await place(ada.id, 'SKU-LAPTOP', 1);
  printOrder('2. An order the balance cannot cover', declined.order, declined.ms);
  const laptopStockAfter = await api.stockOf('SKU-LAPTOP');
  const balanceAfter = (await api.waitForAccount(ada.id)).balance_cents;
  console.log(`  SKU-LAPTOP stock ${laptopStock} before, ${laptopStockAfter} after; balance ${balanceBefore} before, ${balanceAfter} after`);
  expect('order 2 REJECTED for insufficient funds', declined.order.status === 'REJECTED' && /INSUFFICIENT_FUNDS/.test(declined.order.reason_code ?? ''), `${declined.order.status} ${declined.order.reason_code}`);
  expect('order 2 inventory released', laptopStockAfter === laptopStock, `${laptopStock} -> ${laptopStockAfter}`);
  expect('order 2 balance unchanged', balanceAfter === balanceBefore, `${balanceBefore} -> ${balanceAfter}`);

  const bob = await api.createUser(`bob.${runId}@example.com`, 'Bob Pending');
  const notActive = await place(bob.id, 'SKU-MUG', 1);
  printOrder(`3. An order by a user who never activated (${bob.email})`, notActive.order, notActive.ms);
  expect('order 3 REJECTED because the user is not active', notActive.order.status === 'REJECTED' && /NOT_ACTIVE/.test(notActive.order.reason_code ?? ''), `${notActive.order.status} ${notActive.order.reason_code}`);

  return { expectations, latenciesMs };
}

/** Prints the expectations and the latency summary; true when every expectation held. */
function report(expectations: Expectation[], latenciesMs: number[], started: number): boolean {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  console.log('\n== Expectations');
  for (const e of expectations) console.log(`  ${e.held ? 'ok  ' : 'FAIL'} ${e.what} (${e.detail})`);
  console.log(`\nplaced-to-final p50 ${sorted[Math.floor((sorted.length - 1) / 2)]} ms over ${sorted.length} orders; demo wall time ${Date.now() - started} ms`);
  return expectations.every((e) => e.held);
}

/** Waits until the registry lists a healthy instance of every registered app (what startSystem waits for). */
async function waitForRegistered(registryUrl: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const service of appNames.filter((app) => app !== 'registry')) {
    for (;;) {
      const response = await fetch(`${registryUrl}/v1/services/${service}/discover?healthy=true`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
      const instances = response?.ok ? ((await response.json()) as unknown[]) : [];
      if (instances.length > 0) break;
      if (Date.now() > deadline) throw new Error(`${service} has no healthy instance in the registry at ${registryUrl} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** The scenario against a system that is already running (docker compose), started by nobody here. */
async function againstRunningSystem(gatewayUrl: string): Promise<number> {
  const started = Date.now();
  const registryUrl = process.env['REGISTRY_URL'];
  console.log(`== Using the running system behind ${gatewayUrl} (GATEWAY_URL); nothing is started`);
  if (registryUrl) {
    await waitForRegistered(registryUrl);
    console.log(`every service is registered and healthy at ${registryUrl}`);
  }
  const { expectations, latenciesMs } = await runScenario(new PublicApi(gatewayUrl, { token: await mintDevToken({ subject: 'demo' }) }));
  return report(expectations, latenciesMs, started) ? 0 : 1;
}

async function main(): Promise<number> {
  const started = Date.now();
  console.log('== Infrastructure');
  const infra = await bringUpInfrastructure({ log: (line) => console.log(line) });
  const adminUrl = infra.pgAdminUrl;

  console.log('\n== Building the apps');
  buildApps();

  let system: RunningSystem | undefined;
  const shutdown = async () => {
    if (system) {
      console.log('\n== Stopping the apps');
      const codes = await system.stop();
      console.log(Object.entries(codes).map(([app, code]) => `${app}: exit ${code}`).join(', '));
      system = undefined;
    }
    await infra.release();
  };

  try {
    console.log('\n== Starting registry, user-service, payment-service, order-service, gateway');
    const logDir = path.join(root, 'tmp', 'demo-logs');
    system = await startSystem({
      kafkaBrokers: infra.kafkaBrokers.join(','),
      databaseUrls: { users: databaseUrl(adminUrl, 'users'), orders: databaseUrl(adminUrl, 'orders'), payments: databaseUrl(adminUrl, 'payments') },
      registryPort: Number(process.env['REGISTRY_PORT'] ?? 8500),
      gatewayPort: Number(process.env['GATEWAY_PORT'] ?? 8080),
      logDir,
    });
    console.log(`all registered and healthy after ${Date.now() - started} ms; gateway ${system.gatewayUrl}, registry ${system.registryUrl}, logs in ${logDir}`);

    // The gateway asks for a bearer token on orders, payments, accounts and every change: the
    // demo's client sends a development token with every scope (what `npm run token` prints).
    const { expectations, latenciesMs } = await runScenario(new PublicApi(system.gatewayUrl, { token: await mintDevToken({ subject: 'demo' }) }));
    const allHeld = report(expectations, latenciesMs, started);

    if (once) {
      await shutdown();
      return allHeld ? 0 : 1;
    }
    console.log(`\nEverything keeps running for exploration: try  curl ${system.gatewayUrl}/api/products  (public),`);
    console.log(`  curl -H "Authorization: Bearer $(npm run -s token)" "${system.gatewayUrl}/api/orders?user_id=<id>"  (needs a token),`);
    console.log(`  and the API documentation at ${system.gatewayUrl}/docs  — Ctrl-C stops it all.`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await shutdown();
    return allHeld ? 0 : 1;
  } catch (error) {
    console.error('\ndemo failed:', error instanceof Error ? error.message : error);
    await shutdown();
    return 1;
  }
}

const gatewayUrl = process.env['GATEWAY_URL'];
process.exitCode = gatewayUrl
  ? await againstRunningSystem(gatewayUrl).catch((error: unknown) => {
      console.error('\ndemo failed:', error instanceof Error ? error.message : error);
      return 1;
    })
  : await main();
