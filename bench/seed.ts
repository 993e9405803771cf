/**
 * Bulk data for the benchmark, written as the database owner in plain SQL:
 * 10,000 products, and parts whose FIFO layers number in the hundreds of
 * thousands, would take minutes through the API. Every row respects what
 * the service itself would have written: each product's on_hand is its
 * INBOUND movement, each layer has its RECEIVE movement, each used-up layer
 * its ISSUE movement and work-order line (issued in FIFO order), each
 * restored layer its RETURN movement and negative work-order line, and each
 * balance equals its open layers. The invariant checks after each scenario
 * prove it.
 *
 * The rows are written with session_replication_role = replica, which skips
 * the per-row triggers: the foreign-key checks (a third of the time) and the
 * ones that derive balances from the ledger (migration 0004b; the seed
 * writes the balances itself). The rows are consistent by construction, and
 * the checks verify them afterwards.
 */
import pg from 'pg';

export const SEED_SUBJECT = 'bench-seed';

/**
 * Creates `count` products P00001… that received `on_hand` units each
 * (INBOUND) and then shipped `past_orders` orders of one unit each (a fully
 * committed reservation and its OUTBOUND movement), so the order tables
 * start with history and statistics, as a store in business has: a plan
 * made on an empty table (a sequential scan) would otherwise stay cached in
 * every prepared statement.
 */
export async function seedProducts(client: pg.Client, tenant: string, count: number, on_hand: number, past_orders: number): Promise<string[]> {
  await client.query('begin');
  // Balances are written here as the ledger would leave them, so the
  // triggers that derive them from the ledger must not apply it twice.
  await client.query('set local session_replication_role = replica');
  const { rows } = await client.query<{ product_id: string; id: string }>(
    `insert into inventory_items (tenant_id, product_id, sku, name, on_hand)
     select $1, 'P' || lpad(g::text, 5, '0'), 'SKU-' || g, 'Bench product ' || g, $2::bigint - $4::bigint
     from generate_series(1, $3::int) g
     returning product_id, id`,
    [tenant, on_hand, count, past_orders],
  );
  const item_ids = rows.map((row) => row.id);
  await client.query(
    `insert into inventory_movements (tenant_id, item_id, type, quantity, on_hand_after, reference, notes, created_by)
     select $1, id, 'INBOUND', $3::bigint, $3::bigint, 'bench-seed', '', $4
     from unnest($2::uuid[]) as i(id)`,
    [tenant, item_ids, on_hand, SEED_SUBJECT],
  );
  await client.query(
    `insert into inventory_reservations (tenant_id, reference, item_id, held, committed)
     select $1, 'HISTORY-' || k || '-' || i.ord, i.id, 0, 1
     from unnest($2::uuid[]) with ordinality as i(id, ord) cross join generate_series(1, $3::int) k`,
    [tenant, item_ids, past_orders],
  );
  await client.query(
    `insert into inventory_movements (tenant_id, item_id, type, quantity, on_hand_after, reference, notes, created_by)
     select $1, i.id, 'OUTBOUND', -1, $4::bigint - k, 'HISTORY-' || k || '-' || i.ord, '', $5
     from unnest($2::uuid[]) with ordinality as i(id, ord) cross join generate_series(1, $3::int) k
     order by k, i.ord`,
    [tenant, item_ids, past_orders, on_hand, SEED_SUBJECT],
  );
  await client.query('commit');
  return rows.map((row) => row.product_id);
}

export interface FifoShape {
  /** Layers stored per place (part at a location). */
  readonly layers: number;
  /** Of which used up (issued in full before the benchmark starts). */
  readonly used_up: number;
}

export interface FifoPlace {
  readonly part_id: string;
  readonly location_id: string;
}

/**
 * Creates `count` new places (one new part each, at the tenant's bench
 * location): `shape.layers` layers of 1 unit each, received 1 ms apart, the
 * oldest `shape.used_up` of them issued in full to work order WO-SEED.
 */
export async function seedFifoPlaces(client: pg.Client, tenant: string, count: number, shape: FifoShape, first_number: number): Promise<FifoPlace[]> {
  await client.query('begin');
  await client.query('set local session_replication_role = replica');
  const [location] = (
    await client.query<{ id: string }>(
      `insert into locations as l (tenant_id, site, name) values ($1, 'BENCH', 'Store')
       on conflict (tenant_id, site, name) do update set updated_at = l.updated_at
       returning id`,
      [tenant],
    )
  ).rows;
  const open = shape.layers - shape.used_up;
  const { rows } = await client.query<{ part_id: string }>(
    `with new_parts as (
       insert into parts (tenant_id, part_number, name, last_price)
       select $1, 'F-' || lpad(g::text, 7, '0'), 'Bench part ' || g, 1.25
       from generate_series($3::int, $3::int + $4::int - 1) g
       returning id
     )
     insert into part_balances (tenant_id, part_id, location_id, qty_on_hand)
     select $1, id, $2::uuid, $5::numeric from new_parts
     returning part_id`,
    [tenant, location.id, first_number, count, open],
  );
  const part_ids = rows.map((row) => row.part_id);
  await client.query(
    `insert into part_batches (tenant_id, part_id, location_id, qty_received, qty_on_hand, unit_cost, received_at, receipt_id)
     select $1, p.part_id, $2::uuid, 1, case when k <= $5::int then 0 else 1 end, 1.25,
            now() - interval '30 days' + k * interval '1 millisecond', 'bench-seed'
     from unnest($3::uuid[]) as p(part_id) cross join generate_series(1, $4::int) k`,
    [tenant, location.id, part_ids, shape.layers, shape.used_up],
  );
  await client.query(
    `insert into part_movements (tenant_id, type, part_id, location_id, batch_id, to_location_id, qty_delta, unit_cost, receipt_id, created_by)
     select tenant_id, 'RECEIVE', part_id, location_id, id, location_id, qty_received, unit_cost, receipt_id, $3
     from part_batches where tenant_id = $1 and part_id = any($2::uuid[])
     order by part_id, received_at, receipt_seq`,
    [tenant, part_ids, SEED_SUBJECT],
  );
  if (shape.used_up > 0) {
    await client.query(
      `with issued as (
         insert into part_movements (tenant_id, type, part_id, location_id, batch_id, from_location_id, qty_delta, unit_cost, work_order_id, created_by)
         select tenant_id, 'ISSUE', part_id, location_id, id, location_id, -qty_received, unit_cost, 'WO-SEED', $3
         from part_batches where tenant_id = $1 and part_id = any($2::uuid[]) and qty_on_hand = 0
         order by part_id, received_at, receipt_seq
         returning id, tenant_id, part_id, location_id, batch_id, qty_delta, unit_cost, work_order_id
       )
       insert into work_order_lines (tenant_id, work_order_id, part_id, location_id, batch_id, movement_id, qty_used, unit_cost_snapshot, total_cost)
       select tenant_id, work_order_id, part_id, location_id, batch_id, id, -qty_delta, unit_cost, -qty_delta * unit_cost
       from issued order by id`,
      [tenant, part_ids, SEED_SUBJECT],
    );
  }
  await client.query('commit');
  return part_ids.map((part_id) => ({ part_id, location_id: location.id }));
}

/**
 * Undoes the benchmark's issues after `after_movement_id` as the service's
 * ReturnFromWorkOrder would: each ISSUE gets a RETURN movement into the
 * layer it took from, at the same cost, and a negative line on the same
 * work order; layers and balances get their units back. The places keep
 * exactly the layers they store, so the next run sees the same shape.
 * Returns the highest movement id undone.
 */
export async function returnIssues(client: pg.Client, tenant: string, after_movement_id: string): Promise<string> {
  await client.query('begin');
  await client.query('set local session_replication_role = replica');
  const { rows } = await client.query<{ last_id: string | null }>(
    `with issued as materialized (
       select id, part_id, location_id, batch_id, -qty_delta as qty, unit_cost, work_order_id
       from part_movements
       where tenant_id = $1 and id > $2::bigint and type = 'ISSUE' and work_order_id <> 'WO-SEED'
     ),
     returned as (
       insert into part_movements (tenant_id, type, part_id, location_id, batch_id, to_location_id, qty_delta, unit_cost, work_order_id, created_by)
       select $1, 'RETURN', part_id, location_id, batch_id, location_id, qty, unit_cost, work_order_id, $3
       from issued order by id desc
       returning id, part_id, location_id, batch_id, qty_delta, unit_cost, work_order_id
     ),
     lines as (
       insert into work_order_lines (tenant_id, work_order_id, part_id, location_id, batch_id, movement_id, qty_used, unit_cost_snapshot, total_cost)
       select $1, work_order_id, part_id, location_id, batch_id, id, -qty_delta, unit_cost, -qty_delta * unit_cost
       from returned order by id
     ),
     layers as (
       update part_batches b set qty_on_hand = b.qty_on_hand + s.qty
       from (select batch_id, sum(qty) as qty from issued group by batch_id) s
       where b.tenant_id = $1 and b.id = s.batch_id
     ),
     balances as (
       update part_balances b set qty_on_hand = b.qty_on_hand + s.qty, updated_at = now()
       from (select part_id, location_id, sum(qty) as qty from issued group by 1, 2) s
       where b.tenant_id = $1 and b.part_id = s.part_id and b.location_id = s.location_id
     )
     select max(id)::text as last_id from issued`,
    [tenant, after_movement_id, SEED_SUBJECT],
  );
  await client.query('commit');
  return rows[0].last_id ?? after_movement_id;
}

/** The highest ledger id of a tenant ('0' when empty). */
export async function lastMovementId(client: pg.Client, tenant: string): Promise<string> {
  const { rows } = await client.query<{ id: string | null }>(`select max(id)::text as id from part_movements where tenant_id = $1`, [tenant]);
  return rows[0].id ?? '0';
}

/** Updates statistics and the visibility map of the tables a scenario reads. */
export async function analyze(client: pg.Client, tables: readonly string[]): Promise<void> {
  for (const table of tables) await client.query(`vacuum (analyze) ${table}`);
}
