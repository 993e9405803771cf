/**
 * Per-operation cost of the hot paths, one call in flight, through the
 * domain layer (TransactionRunner and the services' operations, no gRPC):
 * what the database-side work of an operation costs, with as little else
 * in the way as possible. Used to price changes to the hot SQL (e.g. the
 * ledger-derived balances of migration 0004b) before and after.
 *
 *   npm run build && node dist/bench/micro-ops.js [operations per kind, default 2000]
 *
 * Starts its own embedded PostgreSQL in a fresh folder; prints, per
 * operation of each kind, best of three rounds: wall time, CPU time of all
 * PostgreSQL processes of that instance, and CPU time of this process. On a
 * shared machine wall time drifts by tens of percent between runs; CPU time
 * of the database is the steadier price of the SQL. (The pool has 4
 * connections: a unit of work flushes on a connection of its own.)
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { migrate } from '../src/db/migrate.js';
import { openOrm } from '../src/db/orm.js';
import { runtimeRoleFor } from '../src/db/runtime-role.js';
import { TransactionRunner } from '../src/db/transaction.js';
import { Catalog as InventoryCatalog } from '../src/inventory/catalog.js';
import { OrderFlow } from '../src/inventory/orders.js';
import { StockChanges } from '../src/inventory/stock-changes.js';
import { Catalog as PartsCatalog } from '../src/parts/catalog.js';
import { StockOperations } from '../src/parts/stock.js';
import type { CallContext } from '../src/shared/caller.js';
import { Decimal } from '../src/shared/decimal.js';
import { IdempotencyStore } from '../src/shared/idempotency.js';

const count = Number(process.argv[2] ?? 2000);
const CLOCK_TICK_MS = 10; // USER_HZ = 100 on Linux

/** CPU ms (user + system) of the postmaster and its children, from /proc. */
async function postgresCpuMs(postmaster: number): Promise<number> {
  let ticks = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[1] = ppid, fields[11] = utime, fields[12] = stime
    if (Number(entry) === postmaster || Number(fields[1]) === postmaster) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * CLOCK_TICK_MS;
}

function nodeCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
const data_dir = `.data/micro-ops-${process.pid}`;
const embedded = await startEmbeddedPostgres({ data_dir, port: 0, fresh: true });
try {
  await migrate(embedded.url);
  const orm = await openOrm({ url: embedded.url, pool_max: 4, runtime_role: runtimeRoleFor(embedded.url) });
  const runner = new TransactionRunner(orm, { lock_timeout_ms: 5_000, statement_timeout_ms: 15_000, retry_max: 3 });
  const idempotency = new IdempotencyStore(24);
  const context: CallContext = { caller: { tenant_id: 'micro', subject: 'bench', roles: new Set(['admin']) } };
  const orders = new OrderFlow(runner, idempotency, 64);
  const stock = new StockChanges(runner, idempotency);
  const parts = new StockOperations(runner, idempotency);

  await new InventoryCatalog(runner, idempotency).createItem(context, { product_id: 'P', sku: 'S', name: 'Micro', reorder_point: 0n }, undefined);
  const catalog = new PartsCatalog(runner, idempotency);
  const part = await catalog.createPart(
    context,
    { part_number: 'M-1', name: 'Micro part', description: '', make: '', category: '', component: '', last_price: null },
    undefined,
  );
  const location = await catalog.createLocation(context, { site: 'S', name: 'L', description: '' }, undefined);
  const place = { part_id: part.id, location_id: location.id };
  const one = new Decimal(1);

  const five = new Decimal(5);
  // [kind, operations per round, operation]. Issues use up exactly the layers the receipts add.
  const kinds: [string, number, (round: number, i: number) => Promise<unknown>][] = [
    ['RecordInbound 1 unit', count, () => stock.recordInbound(context, { product_id: 'P', quantity: 1n, reference: 'PO', notes: '' }, undefined)],
    [
      'Reserve 1 unit (one product)',
      count,
      (round, i) => orders.reserve(context, { lines: [{ product_id: 'P', quantity: 1n }], reference: `R-${round}-${i}` }, undefined),
    ],
    [
      'CommitOutbound 1 unit',
      count,
      (round, i) => orders.commitOutbound(context, { lines: [{ product_id: 'P', quantity: 1n }], reference: `R-${round}-${i}`, notes: '' }, undefined),
    ],
    ['ReceiveParts 1 unit', count, () => parts.receive(context, { ...place, qty: one, unit_cost: one, received_at: null, receipt_id: '' }, undefined)],
    ['IssueToWorkOrder 1 unit (1 layer)', count / 2, () => parts.issue(context, { ...place, work_order_id: 'WO', qty: one }, undefined)],
    ['IssueToWorkOrder 5 units (5 layers)', count / 10, () => parts.issue(context, { ...place, work_order_id: 'WO', qty: five }, undefined)],
  ];
  const postmaster = Number((await readFile(`${data_dir}/postmaster.pid`, 'utf8')).split('\n')[0]);
  const best = new Map<string, { wall: number; postgres: number; node: number }>();
  for (let round = 0; round < 3; round++) {
    for (const [kind, n, operation] of kinds) {
      const [wall0, postgres0, node0] = [process.hrtime.bigint(), await postgresCpuMs(postmaster), nodeCpuMs()];
      for (let i = 0; i < n; i++) await operation(round, i);
      const wall = Number(process.hrtime.bigint() - wall0) / 1e6 / n;
      const postgres = ((await postgresCpuMs(postmaster)) - postgres0) / n;
      const node = (nodeCpuMs() - node0) / n;
      const before = best.get(kind) ?? { wall: Infinity, postgres: Infinity, node: Infinity };
      best.set(kind, { wall: Math.min(before.wall, wall), postgres: Math.min(before.postgres, postgres), node: Math.min(before.node, node) });
    }
  }
  console.log(`${'ms per operation'.padEnd(36)}     wall  PG CPU  node CPU`);
  for (const [kind, ms] of best) {
    console.log(`${kind.padEnd(36)} ${ms.wall.toFixed(3).padStart(8)} ${ms.postgres.toFixed(3).padStart(7)} ${ms.node.toFixed(3).padStart(9)}`);
  }
  await orm.close(true);
} finally {
  await embedded.stop();
  await rm(data_dir, { recursive: true, force: true });
}
