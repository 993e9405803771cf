/**
 * What must hold after each scenario, checked on the database itself (as
 * the owner, reading every row of the scenario's tenant) and, for parts,
 * also through the service's own CheckInventoryHealth and Reconcile. A
 * failed check fails the benchmark: fast and wrong is not a result.
 */
import pg from 'pg';
import { bearer, unary, type Clients } from './load/grpc-client.js';

export interface Check {
  readonly scenario: string;
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

function check(scenario: string, name: string, ok: boolean, detail: string): Check {
  return { scenario, name, ok, detail };
}

async function one<Row extends pg.QueryResultRow>(client: pg.Client, text: string, values: unknown[]): Promise<Row> {
  return (await client.query<Row>(text, values)).rows[0];
}

/** Every item: on_hand = its ledger, reserved = its open holds, nothing negative, reserved within on_hand. */
export async function inventoryLedger(client: pg.Client, scenario: string, tenant: string): Promise<Check[]> {
  const row = await one<{ items: string; on_hand_vs_ledger: string; reserved_vs_holds: string; out_of_bounds: string; bad_holds: string }>(
    client,
    `with m as (select item_id, sum(quantity) as qty from inventory_movements where tenant_id = $1 group by item_id),
          h as (select item_id, sum(held) as held from inventory_reservations where tenant_id = $1 group by item_id)
     select count(*) as items,
            count(*) filter (where i.on_hand <> coalesce(m.qty, 0)) as on_hand_vs_ledger,
            count(*) filter (where i.reserved <> coalesce(h.held, 0)) as reserved_vs_holds,
            count(*) filter (where i.on_hand < 0 or i.reserved < 0 or i.reserved > i.on_hand) as out_of_bounds,
            (select count(*) from inventory_reservations r
             where r.tenant_id = $1 and (r.held < 0 or r.committed < 0 or r.released < 0)) as bad_holds
     from inventory_items i left join m on m.item_id = i.id left join h on h.item_id = i.id
     where i.tenant_id = $1`,
    [tenant],
  );
  return [
    check(scenario, 'on_hand = sum of movements, per item', row.on_hand_vs_ledger === '0', `${row.on_hand_vs_ledger} of ${row.items} items differ`),
    check(scenario, 'reserved = sum of open holds, per item', row.reserved_vs_holds === '0', `${row.reserved_vs_holds} of ${row.items} items differ`),
    check(scenario, '0 <= reserved <= on_hand, holds >= 0', row.out_of_bounds === '0' && row.bad_holds === '0', `${row.out_of_bounds} items, ${row.bad_holds} holds out of bounds`),
  ];
}

/** The ledger matches what the clients were told: one hold per successful Reserve, one OUTBOUND per successful commit. */
export async function spreadMatchesClients(client: pg.Client, scenario: string, tenant: string, prefix: string, reserves: number, commits: number): Promise<Check[]> {
  const row = await one<{ holds: string; committed: string; outbound: string }>(
    client,
    `select (select count(*) from inventory_reservations where tenant_id = $1 and reference like $2 || '%') as holds,
            (select coalesce(sum(committed), 0) from inventory_reservations where tenant_id = $1 and reference like $2 || '%') as committed,
            (select count(*) from inventory_movements where tenant_id = $1 and type = 'OUTBOUND' and reference like $2 || '%') as outbound`,
    [tenant, prefix],
  );
  return [
    check(scenario, 'one hold per successful Reserve', Number(row.holds) === reserves, `${row.holds} holds, ${reserves} successful Reserve calls`),
    check(
      scenario,
      'one OUTBOUND movement per successful CommitOutbound',
      Number(row.outbound) === commits && Number(row.committed) === commits,
      `${row.outbound} movements, ${row.committed} units committed, ${commits} successful CommitOutbound calls`,
    ),
  ];
}

/** A flash-sale product: reserved + committed never exceed what was received, and reserved is exactly what the clients got. */
export async function hotProduct(client: pg.Client, scenario: string, tenant: string, product_id: string, reserves_ok: number): Promise<Check[]> {
  const row = await one<{ received: string; on_hand: string; reserved: string; committed: string }>(
    client,
    `select (select coalesce(sum(quantity), 0) from inventory_movements m where m.tenant_id = i.tenant_id and m.item_id = i.id and m.quantity > 0) as received,
            i.on_hand, i.reserved,
            (select coalesce(sum(committed), 0) from inventory_reservations r where r.tenant_id = i.tenant_id and r.item_id = i.id) as committed
     from inventory_items i where i.tenant_id = $1 and i.product_id = $2`,
    [tenant, product_id],
  );
  const received = BigInt(row.received);
  const reserved = BigInt(row.reserved);
  const committed = BigInt(row.committed);
  return [
    check(
      scenario,
      `${product_id}: reserved + committed <= received`,
      reserved + committed <= received && reserved >= 0n,
      `received ${received}, reserved ${reserved}, committed ${committed}`,
    ),
    check(scenario, `${product_id}: reserved = successful Reserve calls`, reserved === BigInt(reserves_ok), `reserved ${reserved}, ${reserves_ok} successful Reserve calls`),
  ];
}

export interface InventorySnapshot {
  readonly on_hand: string;
  readonly reserved: string;
  readonly movements: string;
  readonly holds: string;
}

export async function inventorySnapshot(client: pg.Client, tenant: string): Promise<InventorySnapshot> {
  return one<InventorySnapshot & pg.QueryResultRow>(
    client,
    `select (select coalesce(sum(on_hand), 0) from inventory_items where tenant_id = $1) as on_hand,
            (select coalesce(sum(reserved), 0) from inventory_items where tenant_id = $1) as reserved,
            (select count(*) from inventory_movements where tenant_id = $1) as movements,
            (select count(*) from inventory_reservations where tenant_id = $1) as holds`,
    [tenant],
  );
}

/** Layers, balances and ledger agree; no layer negative; FIFO order respected; issues match the clients' count. */
export async function fifoLedger(client: pg.Client, scenario: string, tenant: string, issued_calls: number, qty_per_call: number): Promise<Check[]> {
  const row = await one<{
    batches: string;
    negative: string;
    batch_vs_ledger: string;
    places: string;
    balance_vs_batches: string;
    balance_vs_ledger: string;
    fifo_violations: string;
    issued_units: string;
    issue_lines: string;
    issue_movements: string;
  }>(
    client,
    `with per_batch as (
       select b.id, b.qty_on_hand, b.qty_received, coalesce(sum(m.qty_delta), 0) as ledger
       from part_batches b left join part_movements m on m.tenant_id = b.tenant_id and m.batch_id = b.id
       where b.tenant_id = $1 group by b.id, b.qty_on_hand, b.qty_received
     ),
     layers as (select part_id, location_id, sum(qty_on_hand) as qty from part_batches where tenant_id = $1 group by 1, 2),
     ledger as (select part_id, location_id, sum(qty_delta) as qty from part_movements where tenant_id = $1 group by 1, 2),
     fifo as (
       select qty_on_hand < qty_received as touched,
              bool_or(qty_on_hand > 0) over (partition by part_id, location_id order by received_at, receipt_seq
                                             rows between unbounded preceding and 1 preceding) as older_open
       from part_batches where tenant_id = $1
     )
     select (select count(*) from per_batch) as batches,
            (select count(*) from per_batch where qty_on_hand < 0 or qty_on_hand > qty_received) as negative,
            (select count(*) from per_batch where qty_on_hand <> ledger) as batch_vs_ledger,
            (select count(*) from part_balances where tenant_id = $1) as places,
            (select count(*) from part_balances b left join layers l using (part_id, location_id)
             where b.tenant_id = $1 and b.qty_on_hand <> coalesce(l.qty, 0)) as balance_vs_batches,
            (select count(*) from part_balances b left join ledger l using (part_id, location_id)
             where b.tenant_id = $1 and b.qty_on_hand <> coalesce(l.qty, 0)) as balance_vs_ledger,
            (select count(*) from fifo where touched and older_open) as fifo_violations,
            (select coalesce(-sum(qty_delta), 0) from part_movements where tenant_id = $1 and type = 'ISSUE' and work_order_id <> 'WO-SEED') as issued_units,
            (select count(*) from work_order_lines where tenant_id = $1 and work_order_id <> 'WO-SEED' and qty_used > 0) as issue_lines,
            (select count(*) from part_movements where tenant_id = $1 and type = 'ISSUE' and work_order_id <> 'WO-SEED') as issue_movements`,
    [tenant],
  );
  const expected_units = issued_calls * qty_per_call;
  return [
    check(scenario, 'no layer below 0 or above what it received', row.negative === '0', `${row.negative} of ${row.batches} layers`),
    check(scenario, 'each layer = sum of its movements', row.batch_vs_ledger === '0', `${row.batch_vs_ledger} of ${row.batches} layers differ`),
    check(scenario, 'balance = sum of layers', row.balance_vs_batches === '0', `${row.balance_vs_batches} of ${row.places} balances differ`),
    check(scenario, 'balance = sum of ledger', row.balance_vs_ledger === '0', `${row.balance_vs_ledger} of ${row.places} balances differ`),
    check(scenario, 'FIFO: no layer touched while an older one has stock', row.fifo_violations === '0', `${row.fifo_violations} layers`),
    check(
      scenario,
      'units issued = successful IssueToWorkOrder calls x qty, one line per movement',
      Number(row.issued_units) === expected_units && row.issue_lines === row.issue_movements,
      `${Number(row.issued_units)} units in ${row.issue_movements} movements and ${row.issue_lines} lines; ${issued_calls} calls x ${qty_per_call} = ${expected_units}`,
    ),
  ];
}

/** The service's own view: CheckInventoryHealth and Reconcile (only differences) for the tenant. */
export async function partsSelfCheck(clients: Clients, scenario: string, token: string): Promise<Check[]> {
  const metadata = bearer(token);
  const checks: Check[] = [];
  try {
    // The service's default FIFO window (the latest 1,000 consuming movements); the SQL above checks every layer.
    const health = await unary(clients.parts, 'CheckInventoryHealth')({}, metadata);
    const faults = Object.entries(health)
      .filter(([, value]) => value && typeof value === 'object' && 'count' in (value as object) && (value as { count: string }).count !== '0')
      .map(([key, value]) => `${key}: ${(value as { count: string }).count}`);
    checks.push(
      check(scenario, 'CheckInventoryHealth: healthy', health.healthy === true, faults.length ? faults.join(', ') : `${health.fifoMovementsChecked} consuming movements checked for FIFO`),
    );
  } catch (error) {
    checks.push(check(scenario, 'CheckInventoryHealth: healthy', false, `call failed: ${(error as Error).message}`));
  }
  try {
    const reconcile = await unary(clients.parts, 'Reconcile')({ onlyDifferences: true, pageSize: 1000 }, metadata);
    checks.push(check(scenario, 'Reconcile: no differences', reconcile.rows.length === 0, `${reconcile.rows.length} rows differ`));
  } catch (error) {
    checks.push(check(scenario, 'Reconcile: no differences', false, `call failed: ${(error as Error).message}`));
  }
  return checks;
}
