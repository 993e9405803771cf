import { Migration } from '@mikro-orm/migrations';
import { distributeTables } from './Migration0009cDistribute.js';

/**
 * The inventory statements that wrote inside a data-modifying CTE, as
 * functions of the tenant (issue 16): CommitOutbound's movements, a single
 * product's stock change and the hold sweep of one tenant.
 *
 * Citus never routes an INSERT inside a CTE to one shard: it ran them in
 * steps through the coordinator. A stockroom_tenant_* function is distributed by
 * its first argument with force_delegation (distributeTables, below) and
 * runs whole on the tenant's node, each of its statements on local shards;
 * on plain PostgreSQL it is the same statements in one call (plpgsql keeps
 * their plans per connection).
 *
 * Each function reports quantities from rows it read or locked *before* it
 * wrote: a statement after the insert would see what the insert's triggers
 * did (each statement of a function takes a new snapshot), and a hold or
 * balance would count the change twice.
 *
 * SECURITY INVOKER (the default), as 0009a: row-level security and the
 * runtime role's privileges apply inside as outside. No non-immutable
 * function in an ON CONFLICT or RETURNING (Citus refuses them on a shard):
 * the time is taken once into a variable.
 */
export class Migration0013aInventoryTenantFunctions extends Migration {
  override name = '0013a_inventory_tenant_functions';

  override up(): void {
    this.addSql(APPLY_COMMIT);
    this.addSql(APPLY_STOCK_CHANGE);
    this.addSql(SWEEP_EXPIRED_HOLDS);
    this.addSql(distributeTables());
  }
}

/**
 * CommitOutbound's write: for each requested (item, quantity), in request
 * order, if the reference holds that much and the line has not lapsed, one
 * OUTBOUND movement (its trigger moves the units from held to committed and
 * off the item's on_hand and reserved). The caller holds the items' locks,
 * so the lines read first are current. A line that does not qualify writes
 * nothing and returns no row (the caller refuses and rolls back). The line
 * after is the line read plus the move.
 */
const APPLY_COMMIT = `create function stockroom_tenant_apply_commit(
    p_tenant_id text, p_item_ids uuid[], p_quantities bigint[], p_reference text, p_notes text, p_created_by text)
  returns table (item_id uuid, held bigint, committed bigint, released bigint, expired bigint, expires_at timestamptz,
                 line_created_at timestamptz, line_updated_at timestamptz, moved bigint,
                 movement_id bigint, public_id uuid, xid text, type text, quantity bigint, on_hand_after bigint,
                 reference text, notes text, created_by text, movement_created_at timestamptz)
  language plpgsql set search_path = public, pg_temp as $$
  #variable_conflict use_column
  declare
    at timestamptz := now();
    line record;
    m inventory_movements;
  begin
    for line in
      select h.item_id, h.held, h.committed, h.released, h.expired, h.expires_at, h.created_at, r.quantity as moved
      from unnest(p_item_ids, p_quantities) with ordinality as r(item_id, quantity, ord)
      join inventory_reservations h on h.tenant_id = p_tenant_id and h.reference = p_reference and h.item_id = r.item_id
      where h.held >= r.quantity and (h.expires_at is null or h.expires_at > at)
      order by r.ord
    loop
      insert into inventory_movements (tenant_id, item_id, type, quantity, reference, notes, created_by)
      values (p_tenant_id, line.item_id, 'OUTBOUND', -line.moved, p_reference, p_notes, p_created_by)
      returning * into m;
      return query select line.item_id, line.held - line.moved, line.committed + line.moved, line.released, line.expired,
        line.expires_at, line.created_at, at, line.moved,
        m.id, m.public_id, m.xid::text, m.type, m.quantity, m.on_hand_after, m.reference, m.notes, m.created_by, m.created_at;
    end loop;
  end $$`;

/**
 * A stock change of one product (inbound, return, damage, adjustment):
 * locks the item if on_hand stays within [reserved, p_on_hand_max] after
 * the change (re-checked on the last committed row after any lock wait),
 * writes the movement (its trigger applies it to on_hand and fills
 * on_hand_after), and reports the item after: the locked row with
 * on_hand_after. No row: the product is unknown or the check failed.
 */
const APPLY_STOCK_CHANGE = `create function stockroom_tenant_apply_stock_change(
    p_tenant_id text, p_product_id text, p_delta bigint, p_type text, p_reference text, p_notes text, p_created_by text,
    p_on_hand_max bigint)
  returns table (id uuid, product_id text, sku text, name text, on_hand bigint, reserved bigint, reorder_point bigint,
                 created_at timestamptz, updated_at timestamptz,
                 movement_id bigint, public_id uuid, xid text, type text, quantity bigint, on_hand_after bigint,
                 reference text, notes text, created_by text, movement_created_at timestamptz)
  language plpgsql set search_path = public, pg_temp as $$
  #variable_conflict use_column
  declare
    item inventory_items;
    m inventory_movements;
  begin
    select * into item from inventory_items i
     where i.tenant_id = p_tenant_id and i.product_id = p_product_id
       and i.on_hand + p_delta >= i.reserved and i.on_hand + p_delta <= p_on_hand_max
       for update;
    if not found then
      return;
    end if;
    insert into inventory_movements (tenant_id, item_id, type, quantity, reference, notes, created_by)
    values (p_tenant_id, item.id, p_type, p_delta, p_reference, p_notes, p_created_by)
    returning * into m;
    return query select item.id, item.product_id, item.sku, item.name, m.on_hand_after, item.reserved, item.reorder_point,
      item.created_at, now(),
      m.id, m.public_id, m.xid::text, m.type, m.quantity, m.on_hand_after, m.reference, m.notes, m.created_by, m.created_at;
  end $$`;

/**
 * The sweeper's release of due holds of one tenant, at most p_rows lines:
 * lock the items (id order) of due lines, skipping items another
 * transaction holds (the next sweep takes them), then lock and re-check
 * their lines under those locks: a line committed, released or extended in
 * the meantime is no longer due and is left alone, and a line another
 * sweeper released holds nothing, so no hold is released twice. The units
 * move from held to expired and leave the item's reserved (the lines'
 * trigger); then each release is recorded with reason EXPIRED, from what
 * the update returned.
 */
const SWEEP_EXPIRED_HOLDS = `create function stockroom_tenant_sweep_expired_holds(p_tenant_id text, p_rows integer)
  returns table (released integer, items integer)
  language plpgsql set search_path = public, pg_temp as $$
  #variable_conflict use_column
  declare
    refs text[];
    item_ids uuid[];
    quantities bigint[];
    expire_times timestamptz[];
  begin
    with due as (
      select r.item_id from inventory_reservations r
      where r.tenant_id = p_tenant_id and r.held > 0 and r.expires_at <= now()
      order by r.expires_at limit p_rows
    ), locked as (
      select i.id from inventory_items i
      where i.tenant_id = p_tenant_id and i.id in (select d.item_id from due d)
      order by i.id
      for update skip locked
    ), lines as (
      select h.reference, h.item_id, h.held, h.expires_at from inventory_reservations h
      where h.tenant_id = p_tenant_id and h.item_id in (select l.id from locked l) and h.held > 0 and h.expires_at <= now()
      order by h.item_id, h.reference
      limit p_rows
      for update
    ), gone as (
      update inventory_reservations h set held = h.held - x.held, expired = h.expired + x.held, updated_at = now()
      from lines x
      where h.tenant_id = p_tenant_id and h.reference = x.reference and h.item_id = x.item_id
      returning h.reference, h.item_id, x.held as quantity, x.expires_at
    )
    select coalesce(array_agg(g.reference), '{}'), coalesce(array_agg(g.item_id), '{}'),
           coalesce(array_agg(g.quantity), '{}'), coalesce(array_agg(g.expires_at), '{}')
      into refs, item_ids, quantities, expire_times
      from gone g;
    -- One INSERT ... VALUES per release: Citus runs each on the local shard (an
    -- INSERT ... SELECT into this table, whose id is a sequence, it would
    -- run as a COPY, which row-level security refuses).
    for n in 1 .. cardinality(refs) loop
      insert into inventory_hold_expiries (tenant_id, reference, item_id, quantity, expire_time, created_by)
      values (p_tenant_id, refs[n], item_ids[n], quantities[n], expire_times[n], 'stockroom:hold-expiry');
    end loop;
    return query select cardinality(refs), (select count(distinct u.item_id)::integer from unnest(item_ids) as u(item_id));
  end $$`;
