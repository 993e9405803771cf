/**
 * The scenarios of the benchmark. Each sets up its data, measures the
 * raw-db ceiling and the service at every concurrency, and then checks its
 * invariants. The grpc-echo ceiling is measured once per concurrency.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TENANTS, log, type Context } from './context.js';
import { FifoPool } from './fifo-pool.js';
import { fifoLedger, hotProduct, inventoryLedger, inventorySnapshot, partsSelfCheck, spreadMatchesClients } from './invariants.js';
import { bearer, grpcCode, unary } from './load/grpc-client.js';
import type { Target } from './load/protocol.js';
import type { ScenarioInfo } from './report.js';

export const PRODUCTS = 10_000;
/** Units each spread product starts with: far more than any run ships. */
const SPREAD_STOCK = 1_000_000;
/** Units of each flash-sale product measured for throughput: never runs out. */
const HOT_STOCK = 1_000_000_000;
const AVAILABILITY_LINES = 5;
const FIFO_QTY = 5;

export const SCENARIO_INFO: Record<string, ScenarioInfo> = {
  'grpc-echo': { name: 'grpc-echo', what: 'grpc.health.v1.Health/Check alone through Stockroom (1 RPC; its grpc-echo column is the bare server)', rpcs_per_op: 1 },
  'reserve-spread': { name: 'reserve-spread', what: 'Reserve then CommitOutbound of 1 unit of a random one of 10,000 products (2 RPCs, 2 transactions)', rpcs_per_op: 2 },
  'reserve-hot': { name: 'reserve-hot', what: 'Reserve of 1 unit of one product (1 RPC)', rpcs_per_op: 1 },
  'check-availability': { name: 'check-availability', what: 'CheckAvailability of 5 random products (1 RPC, read-only)', rpcs_per_op: 1 },
  'fifo-issue-10': { name: 'fifo-issue-10', what: 'IssueToWorkOrder of 5 units taking 5 layers, part with 10 layers stored (1 RPC)', rpcs_per_op: 1 },
  'fifo-issue-10k': { name: 'fifo-issue-10k', what: 'the same with 10,000 layers stored per part, most of them used up (1 RPC)', rpcs_per_op: 1 },
};

/**
 * The ceilings are measured right before the service at the same
 * concurrency, so that all three see the machine in the same state: over a
 * run of minutes a shared machine's speed drifts by tens of percent.
 */
function targets(context: Context): Target[] {
  return context.options.ceilings ? ['raw-db', 'grpc-echo', 'service'] : ['service'];
}

/** The grpc-echo ceiling of one point: grpc.health.v1.Health/Check on the bare server, same client, same concurrency. */
function echo(context: Context, scenario: string, concurrency: number) {
  return context.measure(scenario, 'grpc-echo', concurrency, TENANTS.inventory, { kind: 'echo' }, `echo-${scenario}-${concurrency}`);
}

export async function reserveSpread(context: Context, product_ids: readonly string[]): Promise<void> {
  log('reserve-spread');
  const calls = { Reserve: 0, CommitOutbound: 0 };
  for (const concurrency of context.options.concurrency) {
    for (const target of targets(context)) {
      if (target === 'grpc-echo') {
        await echo(context, 'reserve-spread', concurrency);
        continue;
      }
      const result = await context.measure('reserve-spread', target, concurrency, TENANTS.inventory, { kind: 'reserve-spread', product_ids }, `spread-${target}-${concurrency}`);
      calls.Reserve += result.calls_ok.Reserve ?? 0;
      calls.CommitOutbound += result.calls_ok.CommitOutbound ?? 0;
    }
  }
  context.addChecks([
    ...(await inventoryLedger(context.owner, 'reserve-spread', TENANTS.inventory)),
    ...(await spreadMatchesClients(context.owner, 'reserve-spread', TENANTS.inventory, 'spread-', calls.Reserve, calls.CommitOutbound)),
  ]);
}

/**
 * The trivial RPC on its own: Health/Check through Stockroom's own stack
 * (as the service) against the bare server's (the grpc-echo ceiling); the
 * difference is what our interceptors and connection handling cost a call.
 */
export async function echoOnly(context: Context): Promise<void> {
  log('grpc-echo alone');
  for (const concurrency of context.options.concurrency) {
    await echo(context, 'grpc-echo', concurrency);
    await context.measure('grpc-echo', 'service', concurrency, TENANTS.inventory, { kind: 'echo' }, `echo-alone-${concurrency}`);
  }
}

/** A product created and stocked through the API, as an operator would. */
async function stockedProduct(context: Context, product_id: string, units: number): Promise<void> {
  const metadata = bearer(context.tokens[TENANTS.inventory]);
  await unary(context.clients.inventory, 'CreateItem')({ productId: product_id, sku: product_id, name: `Flash sale ${product_id}` }, metadata);
  await unary(context.clients.inventory, 'RecordInbound')({ productId: product_id, quantity: String(units), reference: 'bench-setup' }, metadata);
}

export async function reserveHot(context: Context): Promise<void> {
  log('reserve-hot');
  for (const concurrency of context.options.concurrency) {
    for (const target of targets(context)) {
      if (target === 'grpc-echo') {
        await echo(context, 'reserve-hot', concurrency);
        continue;
      }
      const product_id = `HOT-${target}-${concurrency}`;
      await stockedProduct(context, product_id, HOT_STOCK);
      const result = await context.measure('reserve-hot', target, concurrency, TENANTS.inventory, { kind: 'reserve-hot', product_id }, `hot-${target}-${concurrency}`);
      context.addChecks(await hotProduct(context.owner, 'reserve-hot', TENANTS.inventory, product_id, result.calls_ok.Reserve ?? 0));
    }
  }
  await sellOut(context);
  context.addChecks(await inventoryLedger(context.owner, 'reserve-hot', TENANTS.inventory));
}

/**
 * The flash sale itself: twice as many one-unit orders as units, 64 at a
 * time. Exactly the stock must be sold and every other order refused with
 * FAILED_PRECONDITION; nothing else may happen.
 */
async function sellOut(context: Context): Promise<void> {
  const product_id = 'SELLOUT';
  const stock = context.options.quick ? 100 : 500;
  const attempts = stock * 2;
  await stockedProduct(context, product_id, stock);
  const reserve = unary(context.clients.inventory, 'Reserve');
  const metadata = bearer(context.tokens[TENANTS.inventory]);
  const outcomes: Record<string, number> = {};
  let next = 0;
  const lane = async () => {
    while (next < attempts) {
      const reference = `sellout-${next++}`;
      try {
        await reserve({ items: [{ productId: product_id, quantity: '1' }], reference }, metadata);
        outcomes.OK = (outcomes.OK ?? 0) + 1;
      } catch (error) {
        const code = grpcCode(error);
        outcomes[code] = (outcomes[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: 64 }, lane));
  const ok = outcomes.OK ?? 0;
  const refused = outcomes.FAILED_PRECONDITION ?? 0;
  context.addChecks([
    {
      scenario: 'reserve-hot',
      name: `sell-out: ${attempts} orders for ${stock} units, 64 in flight, sell exactly ${stock}`,
      ok: ok === stock && refused === attempts - stock,
      detail: Object.entries(outcomes)
        .map(([code, count]) => `${code} ${count}`)
        .join(', '),
    },
    ...(await hotProduct(context.owner, 'reserve-hot', TENANTS.inventory, product_id, ok)),
  ]);
}

export async function checkAvailability(context: Context, product_ids: readonly string[]): Promise<void> {
  log('check-availability');
  const before = await inventorySnapshot(context.owner, TENANTS.inventory);
  for (const concurrency of context.options.concurrency) {
    for (const target of targets(context)) {
      if (target === 'grpc-echo') {
        await echo(context, 'check-availability', concurrency);
        continue;
      }
      await context.measure(
        'check-availability',
        target,
        concurrency,
        TENANTS.inventory,
        { kind: 'check-availability', product_ids, lines: AVAILABILITY_LINES },
        `check-${target}-${concurrency}`,
      );
    }
  }
  const after = await inventorySnapshot(context.owner, TENANTS.inventory);
  context.addChecks([
    {
      scenario: 'check-availability',
      name: 'reads change nothing (on_hand, reserved, movements, holds)',
      ok: JSON.stringify(before) === JSON.stringify(after),
      detail: `before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`,
    },
  ]);
}

/** Operations per second to provision for at the first concurrency (one in flight), about twice what this machine does. */
const FIRST_GUESS_OPS_PER_SECOND: Record<Target, number> = { 'raw-db': 1_000, service: 600, 'grpc-echo': 0 };

export async function fifoIssue(context: Context, scenario: 'fifo-issue-10' | 'fifo-issue-10k', pool: FifoPool): Promise<void> {
  log(`${scenario}: ${pool.shape.layers} layers stored per part, ${pool.shape.used_up} used up, ${FIFO_QTY} taken per issue`);
  const seen: Record<string, { concurrency: number; ops_per_second: number }> = {};
  let issued = 0;
  for (const concurrency of context.options.concurrency) {
    for (const target of targets(context)) {
      if (target === 'grpc-echo') {
        await echo(context, scenario, concurrency);
        continue;
      }
      // Enough layers for the fastest this target could go: going from 1 to
      // more in flight gives up to 3x, going further on two cores much less.
      // A pool that runs dry anyway shortens the window, and the table says so.
      const last = seen[target];
      const growth = last === undefined ? 1 : last.concurrency === 1 ? 3 : 1.5;
      const first_guess = FIRST_GUESS_OPS_PER_SECOND[target] * (concurrency === 1 ? 1 : 3);
      const guess = Math.max(first_guess, (last?.ops_per_second ?? 0) * growth);
      const calls = Math.ceil((guess * (context.options.warmup_ms + context.options.measure_ms)) / 1000) + concurrency;
      // Twice as many places as transactions can be open at once, so that they rarely wait for each other's balance lock.
      const lease = await pool.lease(calls, context.options.quick ? 4 : Math.max(4, 2 * Math.min(concurrency, context.pool_max)));
      const result = await context.measure(
        scenario,
        target,
        concurrency,
        pool.tenant,
        { kind: 'fifo-issue', places: lease.places, schedule: lease.schedule, qty: String(FIFO_QTY) },
        `${scenario}-${target}-${concurrency}`,
      );
      lease.settle(result.started);
      issued += result.calls_ok.IssueToWorkOrder ?? 0;
      const point = context.points.at(-1)!;
      if (point.ops_per_second > (seen[target]?.ops_per_second ?? 0)) seen[target] = { concurrency, ops_per_second: point.ops_per_second };
    }
  }
  log(`  ${scenario}: created ${pool.created_layers} layers, restored ${pool.restores} times, ${pool.seeding_seconds.toFixed(1)} s (not timed)`);
  context.addChecks([
    ...(await fifoLedger(context.owner, scenario, pool.tenant, issued, FIFO_QTY)),
    ...(await partsSelfCheck(context.clients, scenario, context.tokens[pool.tenant])),
  ]);
  await sleep(0);
}
