import { Migration } from '@mikro-orm/migrations';
import { grantToRuntime, revokeFromRuntime } from './sql.js';

/** Ledger tables whose bigint identity used to be their id on the wire. */
export const LEDGERS = ['inventory_movements', 'part_movements', 'work_order_lines'] as const;

/**
 * Ids that leak nothing across tenants (issue 10, item 9). Movement and
 * work-order-line ids were a global identity: a tenant's ids went 6 -> 12
 * across five writes of another tenant. Each ledger row now also has a
 * public id, a UUIDv7 (48 bits of milliseconds, then random bits): it reveals
 * when the row was written, which create_time says anyway, and nothing of
 * anybody's volume. The bigint stays the internal key (foreign keys,
 * positions, FIFO stacks); every id on the wire is the public one.
 *
 * No counter row per tenant: that row would serialise every write of a tenant.
 *
 * PostgreSQL before 18 has no uuidv7(): stockroom_uuidv7 builds one from a
 * time and gen_random_uuid() (core since 13, no pgcrypto). Existing rows get
 * one from their created_at, so old and new ids sort alike by time.
 *
 * Events carried the bigint ids (movement_ids, written by the triggers of
 * migration 0007): that column becomes uuid[] of public ids, existing
 * events mapped through their movements, and the two triggers that fill it
 * are replaced.
 *
 * The runtime role writes no id: its INSERT column lists leave public_id out.
 */
export class Migration0008bPublicIds extends Migration {
  override name = '0008b_public_ids';

  override up(): void {
    this.addSql(`create function stockroom_uuidv7(at timestamptz default clock_timestamp()) returns uuid
      language sql volatile parallel safe as $$
        -- The version-4 UUID's first 48 bits become the time in ms; bits 52 and 53 turn version 4 (0100) into 7 (0111).
        select encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                 placing substring(int8send(floor(extract(epoch from at) * 1000)::int8) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid
      $$`);
    // The backfill below reads and rewrites every tenant's rows: as the
    // owner, with the tables' FORCE lifted for this transaction only, and the
    // append-only triggers off for this one update.
    for (const table of [...LEDGERS, 'events']) this.addSql(`alter table ${table} no force row level security`);
    for (const table of LEDGERS) {
      this.addSql(`alter table ${table} add column public_id uuid`);
      this.addSql(`alter table ${table} disable trigger ${table}_append_only`);
      this.addSql(`update ${table} set public_id = stockroom_uuidv7(created_at)`);
      this.addSql(`alter table ${table} enable trigger ${table}_append_only`);
      this.addSql(`alter table ${table} alter column public_id set default stockroom_uuidv7()`);
      this.addSql(`alter table ${table} alter column public_id set not null`);
      this.addSql(`create unique index ${table}_public_id on ${table} (tenant_id, public_id)`);
    }
    this.events();
    for (const table of [...LEDGERS, 'events']) this.addSql(`alter table ${table} force row level security`);
    this.addSql(revokeFromRuntime('insert', 'work_order_lines'));
    this.addSql(
      grantToRuntime('insert (tenant_id, work_order_id, part_id, location_id, batch_id, movement_id, qty_used, unit_cost_snapshot, total_cost, created_at)', 'work_order_lines'),
    );
  }

  private events(): void {
    this.addSql(`alter table events add column movement_public_ids uuid[] not null default '{}'`);
    for (const [subject, ledger] of [['item_id', 'inventory_movements'], ['part_id', 'part_movements']]) {
      this.addSql(`update events e set movement_public_ids = coalesce(
          (select array_agg(m.public_id order by m.id) from ${ledger} m where m.tenant_id = e.tenant_id and m.id = any(e.movement_ids)), '{}')
        where e.${subject} is not null and e.movement_ids <> '{}'`);
    }
    this.addSql(`alter table events drop column movement_ids`);
    this.addSql(`alter table events rename column movement_public_ids to movement_ids`);

    this.addSql(`create or replace function stockroom_events_inventory_movement() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $$
      begin
        insert into events (tenant_id, type, product_id, item_id, reference, quantity, on_hand, reserved, reorder_point, movement_ids, caller)
        select new.tenant_id,
               case new.type when 'INBOUND' then 'STOCK_RECEIVED' when 'OUTBOUND' then 'RESERVATION_COMMITTED'
                             when 'ADJUST' then 'STOCK_ADJUSTED' when 'RETURN_IN' then 'STOCK_RETURNED' else 'STOCK_DAMAGED' end,
               i.product_id, i.id, new.reference, new.quantity, i.on_hand, i.reserved, i.reorder_point, array[new.public_id], new.created_by
        from inventory_items i where i.tenant_id = new.tenant_id and i.id = new.item_id;
        return null;
      end $$`);
    this.addSql(`create or replace function stockroom_events_part_movements() returns trigger
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
                     sum(qty_delta) as qty_delta, array_agg(public_id order by id) as ids, min(id) as first_id
              from moved group by tenant_id, type, part_id, location_id, work_order_id) m
        left join part_balances b on b.tenant_id = m.tenant_id and b.part_id = m.part_id and b.location_id = m.location_id
        order by m.first_id;
        return null;
      end $$`);
  }
}
