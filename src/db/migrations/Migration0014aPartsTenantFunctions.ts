import { Migration } from '@mikro-orm/migrations';
import { distributeTables } from './Migration0009cDistribute.js';

/**
 * The parts writes as functions of the tenant (issue 16), the shape
 * single-product Reserve took in 0009a: credit a balance, add a layer,
 * change layers (with their work-order lines), transfer layers, hold for a
 * work order, set a reorder point.
 *
 * Each was one statement whose INSERTs sat in data-modifying CTEs. Citus
 * never routes an INSERT inside a CTE to one shard: it ran them as 2 to 6
 * steps through the coordinator, and there the steps no longer share one
 * snapshot. A function whose first argument is the tenant is delegated whole
 * to the tenant's node (0009c distributes every stockroom_tenant_* function
 * with force_delegation; distributeTables() below does it for these), where
 * its statements run on local shards; Citus refuses any of them that would
 * reach another shard. Rows are inserted with INSERT ... VALUES (see
 * insertRows below for why not INSERT ... SELECT), one local task each
 * there. Defaults (a new balance's
 * created_at, a layer's receipt sequence) are taken on that node, in the
 * transaction that then applies the movements: the threshold trigger's
 * "created by this transaction" test (0004d) holds again on Citus.
 *
 * On plain PostgreSQL each is the same statements in one round trip, as
 * before; plpgsql keeps their plans per connection. Every statement in a
 * function sees what the statements before it (and their triggers) did, so
 * what a function reports is taken from rows it locked or wrote before the
 * statements whose triggers change them (the balance's quantities are read
 * when it is locked, the new layer's when it is inserted), never read back.
 *
 * SECURITY INVOKER (the default): row-level security and the runtime role's
 * privileges apply inside as outside. Nothing non-immutable in an INSERT's
 * ON CONFLICT or RETURNING (Citus refuses them on a shard); times are
 * converted to microseconds in the function's final SELECT.
 */
export class Migration0014aPartsTenantFunctions extends Migration {
  override name = '0014a_parts_tenant_functions';

  override up(): void {
    this.addSql(CREDIT_BALANCE);
    this.addSql(NEW_LAYER);
    this.addSql(CHANGE_LAYERS);
    this.addSql(TRANSFER_LAYERS);
    this.addSql(RESERVE_FOR_WORK_ORDER);
    this.addSql(SET_REORDER_POINT);
    this.addSql(distributeTables());
  }
}

/** SQL: a timestamptz as microseconds since the epoch (src/shared/time.ts micros(), as of this migration). */
const micros = (column: string) => `(extract(epoch from ${column}) * 1000000)::int8`;

/**
 * Locks the part (key share, lock order step 1) and then its balance at the
 * location, creating it empty the first time. No row: unknown part; null
 * site: unknown location (runtime role cannot delete a location, and the
 * part is locked, so the balance's foreign keys cannot fail). qty_on_hand is
 * the balance after the p_qty that the movements written next add.
 */
const CREDIT_BALANCE = `create function stockroom_tenant_parts_credit_balance(
    p_tenant_id text, p_part_id uuid, p_location_id uuid, p_qty numeric)
  returns table (part_number text, last_price numeric, site text, location_name text, qty_on_hand numeric, qty_reserved numeric)
  language plpgsql set search_path = public, pg_temp as $$
  #variable_conflict use_column
  declare
    found_part record;
    balance_on_hand numeric;
    balance_reserved numeric;
  begin
    select p.part_number, p.last_price, l.site, l.name into found_part
      from parts p left join locations l on l.tenant_id = p.tenant_id and l.id = p_location_id
     where p.tenant_id = p_tenant_id and p.id = p_part_id
       for key share of p;
    if not found then
      return;
    end if;
    if found_part.site is not null then
      insert into part_balances as b (tenant_id, part_id, location_id) values (p_tenant_id, p_part_id, p_location_id)
        on conflict on constraint part_balances_pkey do update set updated_at = excluded.updated_at
        returning b.qty_on_hand, b.qty_reserved into balance_on_hand, balance_reserved;
    end if;
    return query select found_part.part_number, found_part.last_price, found_part.site, found_part.name,
                        balance_on_hand + p_qty, balance_reserved;
  end $$`;

/**
 * A new layer and its movement (RECEIVE, or a positive ADJUSTMENT or
 * COUNT_ADJUST), whose trigger fills the layer and adds to the balance; a
 * receipt also sets the part's last price. The layer is reported as
 * inserted, with its quantity on hand the movement's (qty_received).
 */
const NEW_LAYER = `create function stockroom_tenant_parts_new_layer(
    p_tenant_id text, p_part_id uuid, p_location_id uuid, p_qty numeric, p_unit_cost numeric, p_received_us bigint,
    p_receipt_id text, p_type text, p_reason text, p_created_by text, p_update_last_price boolean)
  returns table (id uuid, part_id uuid, location_id uuid, qty_on_hand numeric, qty_received numeric, unit_cost numeric,
                 received_us bigint, receipt_id text, source_batch_id uuid, created_us bigint, movement_id text)
  language plpgsql set search_path = public, pg_temp as $$
  #variable_conflict use_column
  declare
    layer part_batches;
    movement_public_id uuid;
  begin
    insert into part_batches as nb (tenant_id, part_id, location_id, qty_received, unit_cost, received_at, receipt_id)
    values (p_tenant_id, p_part_id, p_location_id, p_qty, p_unit_cost,
            coalesce(timestamptz 'epoch' + p_received_us * interval '1 microsecond', now()), p_receipt_id)
    returning nb.* into layer;
    insert into part_movements as m (tenant_id, type, part_id, location_id, batch_id, to_location_id, qty_delta, unit_cost, receipt_id, reason, created_by)
    values (p_tenant_id, p_type, p_part_id, p_location_id, layer.id, p_location_id, p_qty, p_unit_cost, p_receipt_id, p_reason, p_created_by)
    returning m.public_id into movement_public_id;
    if p_update_last_price then
      update parts p set last_price = p_unit_cost, updated_at = now() where p.tenant_id = p_tenant_id and p.id = p_part_id;
    end if;
    return query select layer.id, layer.part_id, layer.location_id, layer.qty_received, layer.qty_received, layer.unit_cost,
                        ${micros('layer.received_at')}, layer.receipt_id, layer.source_batch_id, ${micros('layer.created_at')},
                        movement_public_id::text;
  end $$`;

/**
 * plpgsql: INSERT `count` rows into `target` (table and column list) and
 * run `body` for each row it returns (`returning`, into the record
 * `written`). Row i is `row` with %1$s standing for i, so array arguments
 * are indexed `$n[%1$s]`; `$n` is the n-th of `using`.
 *
 * Why not INSERT ... SELECT from unnest: the ledgers and layers have an
 * identity or a volatile default (ids, receipt sequence, position, public
 * id), and Citus never runs an INSERT ... SELECT with one on the shard: it
 * pulls the rows through the coordinator and sends them to every shard of
 * the node (inside a delegated function it refuses that). A multi-row
 * INSERT ... VALUES it routes to the tenant's shard as one statement, so
 * the movements' statement trigger still writes one event per operation
 * and place. Up to STATIC_ROWS_MAX rows (most operations: a handful of
 * layers) the statement is a static one per row count, whose plan plpgsql
 * keeps per connection; more rows are built and planned per call (EXECUTE).
 */
const STATIC_ROWS_MAX = 8;

function insertRows(spec: { target: string; count: string; row: string; using: readonly string[]; returning: string; body: string }): string {
  const staticRow = (i: number) => spec.row.replaceAll('%1$s', String(i)).replace(/\$(\d+)/g, (_match, n: string) => `(${spec.using[Number(n) - 1]})`);
  const loop = (statement: string) => `for written in ${statement} loop
        ${spec.body}
      end loop;`;
  const branches = Array.from({ length: STATIC_ROWS_MAX }, (_, index) => {
    const rows = Array.from({ length: index + 1 }, (_, row) => staticRow(row + 1)).join(',\n          ');
    return `${index === 0 ? 'if' : 'elsif'} ${spec.count} = ${index + 1} then
      ${loop(`insert into ${spec.target} values\n          ${rows}\n        returning ${spec.returning}`)}`;
  });
  const dynamicRows = `(select string_agg(format('${spec.row.replaceAll("'", "''")}', i), ', ' order by i) from generate_series(1, ${spec.count}) i)`;
  return `${branches.join('\n    ')}
    else
      ${loop(`execute 'insert into ${spec.target} values ' || ${dynamicRows} || ' returning ${spec.returning}'
        using ${spec.using.join(', ')}`)}
    end if;`;
}

/**
 * Changes existing layers by signed amounts: one movement per layer (its
 * trigger changes the layer and the balance, and refuses a layer that is
 * not the part's at the location) and, with a work order, one work-order
 * line per movement, repeating it (qty_used = -delta). Layer ids distinct;
 * one row per movement, in movement order.
 */
const CHANGE_LAYERS = `create function stockroom_tenant_parts_change_layers(
    p_tenant_id text, p_part_id uuid, p_location_id uuid, p_batch_ids uuid[], p_qty_deltas numeric[], p_unit_costs numeric[],
    p_type text, p_work_order_id text, p_receipt_id text, p_reason text, p_created_by text)
  returns table (movement_id text, line_id text)
  language plpgsql set search_path = public, pg_temp as $$
  #variable_conflict use_column
  declare
    layers int := cardinality(p_batch_ids);
    written record;
    movement_ids bigint[] := '{}';
    movement_public_ids uuid[] := '{}';
    line_public_ids uuid[] := '{}';
  begin
    ${insertRows({
      target: `part_movements as m (tenant_id, type, part_id, location_id, batch_id, from_location_id, to_location_id,
                                    qty_delta, unit_cost, work_order_id, receipt_id, reason, created_by)`,
      count: 'layers',
      row: `($1, $2, $3, $4, $5[%1$s], case when $6[%1$s] < 0 then $4 end, case when $6[%1$s] > 0 then $4 end, $6[%1$s], $7[%1$s], $8, $9, $10, $11)`,
      using: ['p_tenant_id', 'p_type', 'p_part_id', 'p_location_id', 'p_batch_ids', 'p_qty_deltas', 'p_unit_costs', 'p_work_order_id', 'p_receipt_id', 'p_reason', 'p_created_by'],
      returning: 'm.id, m.public_id',
      body: 'movement_ids := movement_ids || written.id; movement_public_ids := movement_public_ids || written.public_id;',
    })}
    if p_work_order_id is not null then
      ${insertRows({
        target: `work_order_lines as l (tenant_id, work_order_id, part_id, location_id, batch_id, movement_id, qty_used, unit_cost_snapshot, total_cost)`,
        count: 'layers',
        row: `($1, $2, $3, $4, $5[%1$s], $6[%1$s], -$7[%1$s], $8[%1$s], -$7[%1$s] * $8[%1$s])`,
        using: ['p_tenant_id', 'p_work_order_id', 'p_part_id', 'p_location_id', 'p_batch_ids', 'movement_ids', 'p_qty_deltas', 'p_unit_costs'],
        returning: 'l.public_id',
        body: 'line_public_ids := line_public_ids || written.public_id;',
      })}
    end if;
    return query select m.public_id::text, l.public_id::text
      from unnest(movement_public_ids) with ordinality as m(public_id, ord)
      left join unnest(line_public_ids) with ordinality as l(public_id, ord) on l.ord = m.ord
     order by m.ord;
  end $$`;

/**
 * Moves units of the given source layers to new layers at the destination
 * that keep each layer's received date, receipt sequence (its place in FIFO
 * order), unit cost and receipt id (copied in SQL, so not even a
 * microsecond is lost), with a TRANSFER_OUT and a TRANSFER_IN movement per
 * layer (their triggers move the units). One row per source layer, in the
 * order given.
 */
const TRANSFER_LAYERS = `create function stockroom_tenant_parts_transfer_layers(
    p_tenant_id text, p_part_id uuid, p_from_location_id uuid, p_to_location_id uuid, p_batch_ids uuid[], p_qtys numeric[], p_created_by text)
  returns table (batch_id uuid, destination_batch_id uuid, out_movement_id text, in_movement_id text)
  language plpgsql set search_path = public, pg_temp as $$
  #variable_conflict use_column
  declare
    layers int := cardinality(p_batch_ids);
    source record;
    written record;
    created_ids uuid[] := '{}';
    out_public_ids uuid[] := '{}';
    in_public_ids uuid[] := '{}';
  begin
    select array_agg(s.unit_cost order by x.ord) as unit_costs, array_agg(s.received_at order by x.ord) as received_ats,
           array_agg(s.receipt_seq order by x.ord) as receipt_seqs, array_agg(s.receipt_id order by x.ord) as receipt_ids,
           count(*) as layers
      into source
      from unnest(p_batch_ids) with ordinality as x(batch_id, ord)
      join part_batches s on s.tenant_id = p_tenant_id and s.id = x.batch_id;
    if source.layers <> layers then
      raise exception 'a transferred layer was not found';
    end if;
    ${insertRows({
      target: 'part_batches as nb (tenant_id, part_id, location_id, qty_received, unit_cost, received_at, receipt_seq, receipt_id, source_batch_id)',
      count: 'layers',
      row: `($1, $2, $3, $4[%1$s], $5[%1$s], $6[%1$s], $7[%1$s], $8[%1$s], $9[%1$s])`,
      using: ['p_tenant_id', 'p_part_id', 'p_to_location_id', 'p_qtys', 'source.unit_costs', 'source.received_ats', 'source.receipt_seqs', 'source.receipt_ids', 'p_batch_ids'],
      returning: 'nb.id',
      body: 'created_ids := created_ids || written.id;',
    })}
    ${insertRows({
      target: 'part_movements as m (tenant_id, type, part_id, location_id, batch_id, from_location_id, to_location_id, qty_delta, unit_cost, created_by)',
      count: 'layers',
      row: `($1, 'TRANSFER_OUT', $2, $3, $5[%1$s], $3, $4, -$6[%1$s], $7[%1$s], $8)`,
      using: ['p_tenant_id', 'p_part_id', 'p_from_location_id', 'p_to_location_id', 'p_batch_ids', 'p_qtys', 'source.unit_costs', 'p_created_by'],
      returning: 'm.public_id',
      body: 'out_public_ids := out_public_ids || written.public_id;',
    })}
    ${insertRows({
      target: 'part_movements as m (tenant_id, type, part_id, location_id, batch_id, from_location_id, to_location_id, qty_delta, unit_cost, created_by)',
      count: 'layers',
      row: `($1, 'TRANSFER_IN', $2, $4, $5[%1$s], $3, $4, $6[%1$s], $7[%1$s], $8)`,
      using: ['p_tenant_id', 'p_part_id', 'p_from_location_id', 'p_to_location_id', 'created_ids', 'p_qtys', 'source.unit_costs', 'p_created_by'],
      returning: 'm.public_id',
      body: 'in_public_ids := in_public_ids || written.public_id;',
    })}
    return query select x.batch_id, x.destination_batch_id, x.out_movement_id::text, x.in_movement_id::text
      from unnest(p_batch_ids, created_ids, out_public_ids, in_public_ids) with ordinality
           as x(batch_id, destination_batch_id, out_movement_id, in_movement_id, ord)
     order by x.ord;
  end $$`;

/**
 * Locks the balance if it has p_qty free (on hand - reserved) and adds to
 * the work order's hold there; the hold's trigger adds it to reserved. No
 * row: unknown place or not enough free. Answers the hold as written (its
 * view is computed by the caller's SELECT) and the balance from its locked
 * row plus the units held. p_lifetime_ms null: never expires.
 */
const RESERVE_FOR_WORK_ORDER = `create function stockroom_tenant_parts_reserve_for_work_order(
    p_tenant_id text, p_work_order_id text, p_part_id uuid, p_location_id uuid, p_qty numeric, p_lifetime_ms bigint)
  returns table (work_order_id text, part_id uuid, part_number text, location_id uuid, qty_held numeric, qty_issued numeric,
                 qty_released numeric, qty_expired numeric, expires_at timestamptz, created_at timestamptz, updated_at timestamptz,
                 qty_on_hand numeric, qty_reserved numeric)
  language plpgsql set search_path = public, pg_temp as $$
  #variable_conflict use_column
  declare
    locked record;
    hold part_work_order_holds;
    hold_expires_at timestamptz := now() + p_lifetime_ms * interval '1 millisecond';
  begin
    -- Re-checked on the last committed row after any lock wait.
    select b.qty_on_hand, b.qty_reserved, p.part_number into locked
      from part_balances b join parts p on p.tenant_id = b.tenant_id and p.id = b.part_id
     where b.tenant_id = p_tenant_id and b.part_id = p_part_id and b.location_id = p_location_id
       and b.qty_on_hand - b.qty_reserved >= p_qty
       for update of b;
    if not found then
      return;
    end if;
    insert into part_work_order_holds as h (tenant_id, work_order_id, part_id, location_id, qty_held, expires_at)
    values (p_tenant_id, p_work_order_id, p_part_id, p_location_id, p_qty, hold_expires_at)
    on conflict on constraint part_work_order_holds_pkey do update
      set qty_held = h.qty_held + excluded.qty_held, expires_at = excluded.expires_at, updated_at = excluded.updated_at
    returning h.* into hold;
    return query select hold.work_order_id, hold.part_id, locked.part_number, hold.location_id, hold.qty_held, hold.qty_issued,
                        hold.qty_released, hold.qty_expired, hold.expires_at, hold.created_at, hold.updated_at,
                        locked.qty_on_hand, locked.qty_reserved + p_qty;
  end $$`;

/**
 * Sets the reorder point (null clears), creating the place's balance at
 * zero if it has none yet, after locking the part (key share, lock order
 * step 1, as every path that may create a balance). Always one row.
 */
const SET_REORDER_POINT = `create function stockroom_tenant_parts_set_reorder_point(
    p_tenant_id text, p_part_id uuid, p_location_id uuid, p_reorder_point numeric)
  returns table (part_found boolean, location_found boolean, qty_on_hand text, reorder_point text)
  language plpgsql set search_path = public, pg_temp as $$
  #variable_conflict use_column
  declare
    place record;
    balance_on_hand text;
    balance_reorder_point text;
  begin
    select l.id is not null as location_found into place
      from parts p left join locations l on l.tenant_id = p.tenant_id and l.id = p_location_id
     where p.tenant_id = p_tenant_id and p.id = p_part_id
       for key share of p;
    if not found then
      return query select false, exists (select from locations l where l.tenant_id = p_tenant_id and l.id = p_location_id), null::text, null::text;
      return;
    end if;
    if place.location_found then
      insert into part_balances as b (tenant_id, part_id, location_id, reorder_point) values (p_tenant_id, p_part_id, p_location_id, p_reorder_point)
      on conflict on constraint part_balances_pkey do update set reorder_point = excluded.reorder_point, updated_at = excluded.updated_at
      returning b.qty_on_hand::text, b.reorder_point::text into balance_on_hand, balance_reorder_point;
    end if;
    return query select true, place.location_found, balance_on_hand, balance_reorder_point;
  end $$`;
