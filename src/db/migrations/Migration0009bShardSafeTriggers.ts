import { Migration } from '@mikro-orm/migrations';
import { ALERT_LEVEL } from './Migration0007Events.js';

/**
 * The trigger functions that tell their table by tg_table_name (threshold
 * and catalog events, migrations 0004d and 0007) read the table's logical
 * name: on Citus a trigger fires on a shard, whose name carries the shard id
 * (inventory_items_102075), and the items' threshold trigger took them for
 * part balances ("record old has no field qty_on_hand").
 *
 * And the event triggers write their event with INSERT ... VALUES after a
 * SELECT of the row they report, not with one INSERT ... SELECT: a trigger
 * on a shard may run only statements Citus executes on that node (co-located
 * shards of the same tenant), and Citus runs an INSERT ... SELECT whose
 * tenant is not the selected row's column through the coordinator, which a
 * trigger may not ("cannot execute a distributed query from a query on a
 * shard"). Each of the two statements is a single-shard one. Same events
 * otherwise (migrations 0007, 0008b, 0012).
 */
export class Migration0009bShardSafeTriggers extends Migration {
  override name = '0009b_shard_safe_triggers';

  override up(): void {
    this.addSql(INVENTORY_MOVEMENT_EVENT);
    this.addSql(RESERVATION_EVENT);
    this.addSql(PART_MOVEMENTS_EVENT);
    this.addSql(PART_HOLD_EVENT);
    this.addSql(`create or replace function stockroom_events_threshold() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $$
      declare
        is_item boolean := ${LOGICAL_TABLE} = 'inventory_items';
        before_level int;
        after_level int;
      begin
        if is_item then
          before_level := ${ALERT_LEVEL('old.on_hand - old.reserved', 'old.reorder_point')};
          after_level := ${ALERT_LEVEL('new.on_hand - new.reserved', 'new.reorder_point')};
        else
          before_level := ${ALERT_LEVEL('old.qty_on_hand - old.qty_reserved', 'old.reorder_point')};
          after_level := ${ALERT_LEVEL('new.qty_on_hand - new.qty_reserved', 'new.reorder_point')};
        end if;
        -- Falling: LOW_STOCK on leaving the normal band when there is a
        -- reorder point, OUT_OF_STOCK on reaching zero (both when one change
        -- does both). Rising back into the normal band: BACK_IN_STOCK.
        if before_level = 0 and after_level > 0 and coalesce(new.reorder_point, 0) > 0 then
          perform stockroom_emit_alert(is_item, new, 'LOW_STOCK');
        end if;
        if after_level = 2 and before_level < 2 then
          perform stockroom_emit_alert(is_item, new, 'OUT_OF_STOCK');
        end if;
        -- A balance created empty by this transaction (a place's first receipt:
        -- its movement fills it, migration 0004b) was never out of stock.
        if after_level = 0 and before_level > 0 and old.created_at <> now() then
          perform stockroom_emit_alert(is_item, new, 'BACK_IN_STOCK');
        end if;
        return null;
      end $$`);
    this.addSql(`create or replace function stockroom_events_catalog() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $$
      declare
        table_name text := ${LOGICAL_TABLE};
        verb text := case tg_op when 'INSERT' then '_CREATED' when 'UPDATE' then '_UPDATED' else '_DELETED' end;
      begin
        if table_name = 'inventory_items' then
          insert into events (tenant_id, type, product_id, item_id, on_hand, reserved, reorder_point)
          values (new.tenant_id, 'ITEM' || verb, new.product_id, new.id, new.on_hand, new.reserved, new.reorder_point);
        elsif table_name = 'parts' and tg_op = 'DELETE' then
          insert into events (tenant_id, type, part_id) values (old.tenant_id, 'PART' || verb, old.id);
        elsif table_name = 'parts' then
          insert into events (tenant_id, type, part_id) values (new.tenant_id, 'PART' || verb, new.id);
        else
          insert into events (tenant_id, type, location_id) values (new.tenant_id, 'LOCATION' || verb, new.id);
        end if;
        return null;
      end $$`);
  }
}

/** The trigger's table without a shard's id suffix (Citus names shards <table>_<shard id>). */
const LOGICAL_TABLE = `regexp_replace(tg_table_name, '_[0-9]+$', '')`;

const INVENTORY_MOVEMENT_EVENT = `create or replace function stockroom_events_inventory_movement() returns trigger
  language plpgsql security definer set search_path = public, pg_temp as $$
  declare
    -- Computed here, not in the INSERT: Citus deparses a simple CASE on a parameter wrongly (text = boolean).
    event_type text := case new.type when 'INBOUND' then 'STOCK_RECEIVED' when 'OUTBOUND' then 'RESERVATION_COMMITTED'
                                     when 'ADJUST' then 'STOCK_ADJUSTED' when 'RETURN_IN' then 'STOCK_RETURNED' else 'STOCK_DAMAGED' end;
    item record;
  begin
    select i.product_id, i.id, i.on_hand, i.reserved, i.reorder_point into item
      from inventory_items i where i.tenant_id = new.tenant_id and i.id = new.item_id;
    if found then
      insert into events (tenant_id, type, product_id, item_id, reference, quantity, on_hand, reserved, reorder_point, movement_ids, caller)
      values (new.tenant_id, event_type, item.product_id, item.id, new.reference, new.quantity, item.on_hand, item.reserved, item.reorder_point, array[new.public_id], new.created_by);
    end if;
    return null;
  end $$`;

const RESERVATION_EVENT = `create or replace function stockroom_events_reservation() returns trigger
  language plpgsql security definer set search_path = public, pg_temp as $$
  declare
    event_type text := 'RESERVATION_CREATED';
    quantity bigint := new.held - coalesce(old.held, 0);
    item record;
  begin
    if new.expired > coalesce(old.expired, 0) then
      event_type := 'RESERVATION_EXPIRED';
      quantity := new.expired - old.expired;
    elsif new.released > coalesce(old.released, 0) then
      event_type := 'RESERVATION_RELEASED';
      quantity := new.released - old.released;
    end if;
    select i.product_id, i.id, i.on_hand, i.reserved, i.reorder_point into item
      from inventory_items i where i.tenant_id = new.tenant_id and i.id = new.item_id;
    if found then
      insert into events (tenant_id, type, product_id, item_id, reference, quantity, on_hand, reserved, reorder_point)
      values (new.tenant_id, event_type, item.product_id, item.id, new.reference, quantity, item.on_hand, item.reserved, item.reorder_point);
    end if;
    return null;
  end $$`;

// One event per statement, movement type and place (as 0007), one place at a time.
const PART_MOVEMENTS_EVENT = `create or replace function stockroom_events_part_movements() returns trigger
  language plpgsql security definer set search_path = public, pg_temp as $$
  declare
    m record;
    balance record;
    event_type text;
  begin
    for m in
      select tenant_id, type, part_id, location_id, work_order_id, min(receipt_id) as receipt_id, min(created_by) as created_by,
             sum(qty_delta) as qty_delta, array_agg(public_id order by id) as ids, min(id) as first_id
        from moved group by tenant_id, type, part_id, location_id, work_order_id
       order by first_id
    loop
      select b.qty_on_hand, b.qty_reserved, b.reorder_point into balance
        from part_balances b where b.tenant_id = m.tenant_id and b.part_id = m.part_id and b.location_id = m.location_id;
      event_type := case m.type when 'RECEIVE' then 'PARTS_RECEIVED' when 'ISSUE' then 'PARTS_ISSUED' when 'RETURN' then 'PARTS_RETURNED'
                                when 'TRANSFER_OUT' then 'PARTS_TRANSFERRED_OUT' when 'TRANSFER_IN' then 'PARTS_TRANSFERRED_IN'
                                when 'ADJUSTMENT' then 'PARTS_ADJUSTED' when 'COUNT_ADJUST' then 'PARTS_COUNTED'
                                else 'PARTS_RETURNED_TO_VENDOR' end;
      insert into events (tenant_id, type, part_id, location_id, reference, quantity, on_hand, reserved, reorder_point, movement_ids, caller)
      values (m.tenant_id, event_type, m.part_id, m.location_id, coalesce(m.work_order_id, nullif(m.receipt_id, ''), ''),
              m.qty_delta, balance.qty_on_hand, balance.qty_reserved, balance.reorder_point, m.ids, m.created_by);
    end loop;
    return null;
  end $$`;

const PART_HOLD_EVENT = `create or replace function stockroom_events_part_hold() returns trigger
  language plpgsql security definer set search_path = public, pg_temp as $$
  declare
    event_type text := 'RESERVATION_CREATED';
    quantity numeric := new.qty_held - coalesce(old.qty_held, 0);
    balance record;
  begin
    if new.qty_expired > coalesce(old.qty_expired, 0) then
      event_type := 'RESERVATION_EXPIRED';
      quantity := new.qty_expired - old.qty_expired;
    elsif new.qty_released > coalesce(old.qty_released, 0) then
      event_type := 'RESERVATION_RELEASED';
      quantity := new.qty_released - old.qty_released;
    elsif new.qty_issued > coalesce(old.qty_issued, 0) then
      -- Negative, as for CommitOutbound: the units left the store.
      event_type := 'RESERVATION_COMMITTED';
      quantity := old.qty_issued - new.qty_issued;
    end if;
    select b.qty_on_hand, b.qty_reserved, b.reorder_point into balance
      from part_balances b where b.tenant_id = new.tenant_id and b.part_id = new.part_id and b.location_id = new.location_id;
    if found then
      insert into events (tenant_id, type, part_id, location_id, reference, quantity, on_hand, reserved, reorder_point)
      values (new.tenant_id, event_type, new.part_id, new.location_id, new.work_order_id, quantity, balance.qty_on_hand, balance.qty_reserved, balance.reorder_point);
    end if;
    return null;
  end $$`;
