import { Migration } from '@mikro-orm/migrations';
import { CURRENT_TENANT, grantToRuntime, tenantTable } from './sql.js';

/** Maintenance tasks that may read (relay) or purge (retention) events across tenants. */
export const EVENTS_RELAY_TASK = 'events_relay';
export const EVENTS_PURGE_TASK = 'events_purge';
const MAINTENANCE = `current_setting('stockroom.maintenance', true)`;

/**
 * Alert level of an available quantity: 0 normal, 1 at or below a positive
 * reorder point, 2 at zero. Written out (not a function call) so that a
 * trigger's WHEN clause evaluates it without calling any function.
 */
export const ALERT_LEVEL = (available: string, reorder_point: string) =>
  `(case when ${available} <= 0 then 2 when ${available} <= coalesce(${reorder_point}, 0) then 1 else 0 end)`;

/**
 * The transactional outbox (issue 12). Triggers write each event in the
 * statement that makes the change, so an event exists exactly when its
 * change commits, whichever code path made it, and the hot paths pay no
 * extra round trip.
 *
 * Position: every event carries the id of the transaction that wrote it
 * (xid8, pg_current_xact_id()) and a sequence number; readers order by
 * (xid, id) and return only rows whose xid is below the xmin of their
 * snapshot, i.e. rows of transactions that have all ended. A transaction
 * that commits late has an xid at or above every earlier reader's xmin, so
 * it always sorts after what those readers returned: "everything after P"
 * never misses a row. (Same mechanism as the ledger reader position of
 * issue 10 item 6; src/db/position.ts is the one reader of it.)
 *
 * Where events come from:
 *  - inventory_movements: one event per movement (STOCK_RECEIVED, ...;
 *    OUTBOUND is the commit of a hold: RESERVATION_COMMITTED).
 *  - inventory_reservations: RESERVATION_CREATED on a new or grown hold,
 *    RESERVATION_RELEASED, RESERVATION_EXPIRED (held moved to expired by the
 *    sweeper of migration 0006).
 *  - part_movements: one event per ledger statement, type and place, with
 *    all its movement ids (an issue over three FIFO layers is one event).
 *  - catalog: items, parts and locations created, updated or deleted.
 *  - thresholds: inventory_items and part_balances rows whose available
 *    quantity crosses the reorder point or zero (LOW_STOCK, OUT_OF_STOCK,
 *    BACK_IN_STOCK). The trigger's WHEN clause is evaluated without calling
 *    any function, so an update that crosses nothing costs almost nothing.
 *
 * The trigger functions are SECURITY DEFINER: the runtime role may read
 * events but never write or forge one. Row-level security still binds them
 * (FORCE), so an event always belongs to the transaction's tenant.
 */
export class Migration0007Events extends Migration {
  override name = '0007_events';

  override up(): void {
    this.table();
    this.inventory();
    this.parts();
    this.catalog();
    this.thresholds();
  }

  private table(): void {
    this.addSql(`create table events (
      tenant_id text not null,
      id bigint generated always as identity (sequence name events_id_seq),
      xid xid8 not null default pg_current_xact_id(),
      event_id uuid not null default gen_random_uuid(),
      type text not null,
      product_id text,
      item_id uuid,
      part_id uuid,
      location_id uuid,
      reference text not null default '',
      quantity numeric,
      on_hand numeric,
      reserved numeric,
      reorder_point numeric,
      movement_ids bigint[] not null default '{}',
      caller text not null default coalesce(nullif(current_setting('stockroom.caller', true), ''), 'stockroom'),
      created_at timestamptz not null default now(),
      constraint events_pkey primary key (tenant_id, xid, id),
      constraint events_subject check ((item_id is not null) or (part_id is not null) or (location_id is not null))
    )`);
    // The relay and the retention purge read all tenants in position order.
    this.addSql(`create index events_by_position on events (xid, id)`);
    for (const statement of tenantTable('events', ['SELECT'])) this.addSql(statement);
    this.addSql(grantToRuntime('delete', 'events'));
    const task = (name: string) => `(${CURRENT_TENANT} is null and ${MAINTENANCE} = '${name}')`;
    this.addSql(`create policy events_relay_read on events for select using (${task(EVENTS_RELAY_TASK)} or ${task(EVENTS_PURGE_TASK)})`);
    this.addSql(`create policy events_purge on events for delete using (${task(EVENTS_PURGE_TASK)})`);

    // How far each relay has published (its last acknowledged position).
    this.addSql(`create table event_relays (
      name text primary key,
      xid xid8 not null default '0',
      id bigint not null default 0,
      published bigint not null default 0,
      updated_at timestamptz not null default now(),
      constraint event_relays_name_length check (char_length(name) between 1 and 64)
    )`);
    // Deployment-wide, not a tenant's: only a transaction that declared itself the relay sees it.
    this.addSql(`alter table event_relays enable row level security`);
    this.addSql(`alter table event_relays force row level security`);
    this.addSql(`create policy event_relays_relay_only on event_relays using (${task(EVENTS_RELAY_TASK)}) with check (${task(EVENTS_RELAY_TASK)})`);
    // The purge keeps what the relay has not published yet: it reads the relay's position.
    this.addSql(`create policy event_relays_purge_read on event_relays for select using (${task(EVENTS_PURGE_TASK)})`);
    this.addSql(grantToRuntime('select, insert, update', 'event_relays'));
  }

  private inventory(): void {
    this.addSql(`create function stockroom_events_inventory_movement() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $$
      begin
        insert into events (tenant_id, type, product_id, item_id, reference, quantity, on_hand, reserved, reorder_point, movement_ids, caller)
        select new.tenant_id,
               case new.type when 'INBOUND' then 'STOCK_RECEIVED' when 'OUTBOUND' then 'RESERVATION_COMMITTED'
                             when 'ADJUST' then 'STOCK_ADJUSTED' when 'RETURN_IN' then 'STOCK_RETURNED' else 'STOCK_DAMAGED' end,
               i.product_id, i.id, new.reference, new.quantity, i.on_hand, i.reserved, i.reorder_point, array[new.id], new.created_by
        from inventory_items i where i.tenant_id = new.tenant_id and i.id = new.item_id;
        return null;
      end $$`);
    this.addSql(`create trigger inventory_movements_event after insert on inventory_movements
      for each row execute function stockroom_events_inventory_movement()`);

    // A commit moves held to committed: its event is the OUTBOUND movement's.
    this.addSql(`create function stockroom_events_reservation() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $$
      declare
        event_type text := 'RESERVATION_CREATED';
        quantity bigint := new.held - coalesce(old.held, 0);
      begin
        if new.expired > coalesce(old.expired, 0) then
          event_type := 'RESERVATION_EXPIRED';
          quantity := new.expired - old.expired;
        elsif new.released > coalesce(old.released, 0) then
          event_type := 'RESERVATION_RELEASED';
          quantity := new.released - old.released;
        end if;
        insert into events (tenant_id, type, product_id, item_id, reference, quantity, on_hand, reserved, reorder_point)
        select new.tenant_id, event_type, i.product_id, i.id, new.reference, quantity, i.on_hand, i.reserved, i.reorder_point
        from inventory_items i where i.tenant_id = new.tenant_id and i.id = new.item_id;
        return null;
      end $$`);
    this.addSql(`create trigger inventory_reservations_created_event after insert on inventory_reservations
      for each row when (new.held > 0) execute function stockroom_events_reservation()`);
    this.addSql(`create trigger inventory_reservations_changed_event after update on inventory_reservations
      for each row when (new.held > old.held or new.released > old.released or new.expired > old.expired)
      execute function stockroom_events_reservation()`);
  }

  private parts(): void {
    // One event per statement, movement type and place: all layers of one
    // issue, receipt or transfer side in one event, with every movement id.
    this.addSql(`create function stockroom_events_part_movements() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $$
      begin
        insert into events (tenant_id, type, part_id, location_id, reference, quantity, on_hand, reserved, reorder_point, movement_ids, caller)
        select m.tenant_id,
               case m.type when 'RECEIVE' then 'PARTS_RECEIVED' when 'ISSUE' then 'PARTS_ISSUED' when 'RETURN' then 'PARTS_RETURNED'
                           when 'TRANSFER_OUT' then 'PARTS_TRANSFERRED_OUT' when 'TRANSFER_IN' then 'PARTS_TRANSFERRED_IN'
                           when 'ADJUSTMENT' then 'PARTS_ADJUSTED' when 'COUNT_ADJUST' then 'PARTS_COUNTED'
                           else 'PARTS_RETURNED_TO_VENDOR' end,
               m.part_id, m.location_id, coalesce(m.work_order_id, nullif(m.receipt_id, ''), ''),
               m.qty_delta, b.qty_on_hand, b.qty_reserved, b.reorder_point, m.ids, m.created_by
        from (select tenant_id, type, part_id, location_id, work_order_id, min(receipt_id) as receipt_id, min(created_by) as created_by,
                     sum(qty_delta) as qty_delta, array_agg(id order by id) as ids, min(id) as first_id
              from moved group by tenant_id, type, part_id, location_id, work_order_id) m
        left join part_balances b on b.tenant_id = m.tenant_id and b.part_id = m.part_id and b.location_id = m.location_id
        order by m.first_id;
        return null;
      end $$`);
    this.addSql(`create trigger part_movements_event after insert on part_movements
      referencing new table as moved for each statement execute function stockroom_events_part_movements()`);
  }

  private catalog(): void {
    this.addSql(`create function stockroom_events_catalog() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $$
      declare
        verb text := case tg_op when 'INSERT' then '_CREATED' when 'UPDATE' then '_UPDATED' else '_DELETED' end;
      begin
        if tg_table_name = 'inventory_items' then
          insert into events (tenant_id, type, product_id, item_id, on_hand, reserved, reorder_point)
          values (new.tenant_id, 'ITEM' || verb, new.product_id, new.id, new.on_hand, new.reserved, new.reorder_point);
        elsif tg_table_name = 'parts' and tg_op = 'DELETE' then
          insert into events (tenant_id, type, part_id) values (old.tenant_id, 'PART' || verb, old.id);
        elsif tg_table_name = 'parts' then
          insert into events (tenant_id, type, part_id) values (new.tenant_id, 'PART' || verb, new.id);
        else
          insert into events (tenant_id, type, location_id) values (new.tenant_id, 'LOCATION' || verb, new.id);
        end if;
        return null;
      end $$`);
    this.addSql(`create trigger inventory_items_created_event after insert on inventory_items
      for each row execute function stockroom_events_catalog()`);
    this.addSql(`create trigger inventory_items_updated_event after update on inventory_items
      for each row when (new.name <> old.name or new.sku <> old.sku or new.reorder_point <> old.reorder_point)
      execute function stockroom_events_catalog()`);
    this.addSql(`create trigger parts_catalog_event after insert or delete on parts
      for each row execute function stockroom_events_catalog()`);
    this.addSql(`create trigger parts_updated_event after update on parts
      for each row when ((new.part_number, new.name, new.description, new.make, new.category, new.component)
                         is distinct from (old.part_number, old.name, old.description, old.make, old.category, old.component))
      execute function stockroom_events_catalog()`);
    this.addSql(`create trigger locations_catalog_event after insert or update on locations
      for each row execute function stockroom_events_catalog()`);
  }

  /**
   * Alert state of a quantity: 'low' at or below a positive reorder point,
   * 'out' at zero or less; the trigger fires only when the state changes.
   */
  private thresholds(): void {
    // Parts: an optional minimum per part and location (null: no alerts but OUT_OF_STOCK/BACK_IN_STOCK).
    // Available there is qty_on_hand - qty_reserved (work-order holds, migration 0006).
    this.addSql(`alter table part_balances add column reorder_point numeric(18,3)`);
    this.addSql(`alter table part_balances add constraint part_balances_reorder_point_range
      check (reorder_point between 0 and 1000000000000000)`);
    this.addSql(grantToRuntime('insert (tenant_id, part_id, location_id, reorder_point), update (reorder_point, updated_at)', 'part_balances'));

    this.addSql(`create function stockroom_events_threshold() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $$
      declare
        is_item boolean := tg_table_name = 'inventory_items';
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
        if after_level = 0 and before_level > 0 then
          perform stockroom_emit_alert(is_item, new, 'BACK_IN_STOCK');
        end if;
        return null;
      end $$`);
    this.addSql(`create function stockroom_emit_alert(is_item boolean, subject record, event_type text) returns void
      language plpgsql set search_path = public, pg_temp as $$
      begin
        if is_item then
          insert into events (tenant_id, type, product_id, item_id, on_hand, reserved, reorder_point)
          values (subject.tenant_id, event_type, subject.product_id, subject.id, subject.on_hand, subject.reserved, subject.reorder_point);
        else
          insert into events (tenant_id, type, part_id, location_id, on_hand, reserved, reorder_point)
          values (subject.tenant_id, event_type, subject.part_id, subject.location_id, subject.qty_on_hand, subject.qty_reserved, subject.reorder_point);
        end if;
      end $$`);
    this.addSql(`revoke execute on function stockroom_emit_alert(boolean, record, text) from public`);
    const item_level = (row: string) => ALERT_LEVEL(`${row}.on_hand - ${row}.reserved`, `${row}.reorder_point`);
    const part_level = (row: string) => ALERT_LEVEL(`${row}.qty_on_hand - ${row}.qty_reserved`, `${row}.reorder_point`);
    this.addSql(`create trigger inventory_items_threshold_event after update on inventory_items
      for each row when (${item_level('new')} <> ${item_level('old')}) execute function stockroom_events_threshold()`);
    this.addSql(`create trigger part_balances_threshold_event after update on part_balances
      for each row when (${part_level('new')} <> ${part_level('old')}) execute function stockroom_events_threshold()`);
  }
}
