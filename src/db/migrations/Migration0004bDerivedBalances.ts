import { Migration } from '@mikro-orm/migrations';
import { grantToRuntime, revokeFromRuntime } from './sql.js';

/**
 * Balances the database derives from the ledger and defends (issue 10,
 * item 1). Until now the service wrote a balance and its ledger row side by
 * side, and PostgreSQL accepted a balance changed with no movement, a hold
 * committed with no stock change, a forged on_hand_after or unit cost, and a
 * work-order line naming the wrong movement.
 *
 * The design: the runtime role writes FACTS (ledger rows, holds), and
 * triggers owned by the table owner derive every balance from them.
 *  - inventory_movements: a BEFORE INSERT trigger applies the movement to
 *    its item's on_hand and fills on_hand_after from it (a movement that
 *    names another on_hand_after is refused); an OUTBOUND movement moves its
 *    reference's hold to committed and takes it off reserved.
 *  - inventory_reservations: an AFTER trigger keeps the item's reserved
 *    equal to the sum of its holds; committed and released only grow, and
 *    only out of held.
 *  - part_movements: a BEFORE INSERT trigger applies the movement to its
 *    layer and to the part's balance at the location, refusing a unit cost
 *    other than the layer's.
 *  - work_order_lines: a BEFORE INSERT trigger refuses a line that does not
 *    match its ISSUE or RETURN movement (work order, place, layer, quantity,
 *    unit cost).
 * Column privileges take the derived columns away from the runtime role:
 * it cannot INSERT or UPDATE on_hand, reserved, committed, or any layer or
 * balance quantity. The triggers are SECURITY DEFINER (owner) for exactly
 * those writes; row-level security still binds them (FORCE), so they act
 * on the transaction's tenant only.
 *
 * Left to the health checks: the owner and superusers can still edit the
 * tables directly (migrations, repairs, the benchmark's bulk seed, which
 * runs with session_replication_role = replica so no trigger fires).
 */
export class Migration0004bDerivedBalances extends Migration {
  override name = '0004b_derived_balances';

  override up(): void {
    this.inventory();
    this.parts();
  }

  private inventory(): void {
    this.addSql(`create function stockroom_inventory_movement_apply() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $$
      declare
        after_on_hand bigint;
      begin
        if new.type = 'OUTBOUND' then
          -- Shipping is the commit of a hold: the reference must hold the units.
          update inventory_reservations h
             set held = h.held + new.quantity, committed = h.committed - new.quantity, updated_at = now()
           where h.tenant_id = new.tenant_id and h.reference = new.reference and h.item_id = new.item_id and h.held >= -new.quantity;
          if not found then
            raise exception 'an OUTBOUND movement must ship units its reference holds'
              using errcode = 'check_violation', constraint = 'inventory_movements_outbound_held', table = 'inventory_movements';
          end if;
          update inventory_items i
             set on_hand = i.on_hand + new.quantity, reserved = i.reserved + new.quantity, updated_at = now()
           where i.tenant_id = new.tenant_id and i.id = new.item_id
           returning i.on_hand into after_on_hand;
        else
          update inventory_items i set on_hand = i.on_hand + new.quantity, updated_at = now()
           where i.tenant_id = new.tenant_id and i.id = new.item_id
           returning i.on_hand into after_on_hand;
        end if;
        if after_on_hand is null then
          raise exception 'movement of an unknown item'
            using errcode = 'foreign_key_violation', constraint = 'inventory_movements_item_fkey', table = 'inventory_movements';
        end if;
        if new.on_hand_after is not null and new.on_hand_after <> after_on_hand then
          raise exception 'on_hand_after is derived from the ledger (% here), not written', after_on_hand
            using errcode = 'check_violation', constraint = 'inventory_movements_on_hand_after_derived', table = 'inventory_movements';
        end if;
        new.on_hand_after := after_on_hand;
        return new;
      end $$`);
    this.addSql(`create trigger inventory_movements_apply before insert on inventory_movements
      for each row execute function stockroom_inventory_movement_apply()`);

    // Reserve adds to held; release moves held to released; commit (only the
    // OUTBOUND trigger above, committed is not the runtime role's to write)
    // moves held to committed. reserved follows held.
    this.addSql(`create function stockroom_inventory_hold_apply() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $$
      declare
        change bigint;
      begin
        if tg_op = 'INSERT' then
          if new.committed <> 0 or new.released <> 0 then
            raise exception 'a new hold starts with nothing committed or released'
              using errcode = 'check_violation', constraint = 'inventory_reservations_moves', table = 'inventory_reservations';
          end if;
          change := new.held;
        else
          -- Units reach committed or released only out of held (a later
          -- migration's expired counter, 0006, takes them out of held too).
          if new.committed < old.committed or new.released < old.released
             or (new.committed - old.committed) + (new.released - old.released) > greatest(old.held - new.held, 0) then
            raise exception 'a hold changes only by reserve, release or commit'
              using errcode = 'check_violation', constraint = 'inventory_reservations_moves', table = 'inventory_reservations';
          end if;
          -- A commit's units leave reserved in the OUTBOUND trigger, with on_hand.
          change := (new.held - old.held) + (new.committed - old.committed);
        end if;
        if change <> 0 then
          update inventory_items i set reserved = i.reserved + change, updated_at = now()
           where i.tenant_id = new.tenant_id and i.id = new.item_id;
        end if;
        return null;
      end $$`);
    this.addSql(`create trigger inventory_reservations_apply after insert or update on inventory_reservations
      for each row execute function stockroom_inventory_hold_apply()`);

    this.addSql(revokeFromRuntime('insert, update', 'inventory_items'));
    this.addSql(grantToRuntime('insert (tenant_id, id, product_id, sku, name, reorder_point, created_at, updated_at)', 'inventory_items'));
    this.addSql(grantToRuntime('update (sku, name, reorder_point, updated_at)', 'inventory_items'));
    this.addSql(revokeFromRuntime('insert, update', 'inventory_reservations'));
    this.addSql(grantToRuntime('insert (tenant_id, reference, item_id, held)', 'inventory_reservations'));
    this.addSql(grantToRuntime('update (held, released, updated_at)', 'inventory_reservations'));
  }

  private parts(): void {
    this.addSql(`create function stockroom_part_movement_apply() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $$
      declare
        layer_cost numeric;
      begin
        update part_batches b set qty_on_hand = b.qty_on_hand + new.qty_delta
         where b.tenant_id = new.tenant_id and b.id = new.batch_id and b.part_id = new.part_id and b.location_id = new.location_id
         returning b.unit_cost into layer_cost;
        if layer_cost is null then
          raise exception 'movement of a layer that is not the part''s at the location'
            using errcode = 'foreign_key_violation', constraint = 'part_movements_batch_fkey', table = 'part_movements';
        end if;
        if layer_cost <> new.unit_cost then
          raise exception 'a movement carries its layer''s unit cost (%), not %', layer_cost, new.unit_cost
            using errcode = 'check_violation', constraint = 'part_movements_unit_cost_of_layer', table = 'part_movements';
        end if;
        update part_balances b set qty_on_hand = b.qty_on_hand + new.qty_delta, updated_at = now()
         where b.tenant_id = new.tenant_id and b.part_id = new.part_id and b.location_id = new.location_id;
        return new;
      end $$`);
    this.addSql(`create trigger part_movements_apply before insert on part_movements
      for each row execute function stockroom_part_movement_apply()`);

    this.addSql(`create function stockroom_work_order_line_check() returns trigger
      language plpgsql set search_path = public, pg_temp as $$
      begin
        perform 1 from part_movements m
         where m.tenant_id = new.tenant_id and m.id = new.movement_id and m.type in ('ISSUE', 'RETURN')
           and m.work_order_id = new.work_order_id and m.part_id = new.part_id and m.location_id = new.location_id
           and m.batch_id = new.batch_id and m.qty_delta = -new.qty_used and m.unit_cost = new.unit_cost_snapshot;
        if not found then
          raise exception 'a work-order line repeats its ISSUE or RETURN movement (work order, place, layer, quantity, unit cost)'
            using errcode = 'check_violation', constraint = 'work_order_lines_match_movement', table = 'work_order_lines';
        end if;
        return new;
      end $$`);
    this.addSql(`create trigger work_order_lines_match_movement before insert on work_order_lines
      for each row execute function stockroom_work_order_line_check()`);

    // A new layer or balance starts empty; its movements fill it.
    this.addSql(`alter table part_batches alter column qty_on_hand set default 0`);
    this.addSql(revokeFromRuntime('insert, update', 'part_batches'));
    this.addSql(grantToRuntime('insert (tenant_id, id, part_id, location_id, qty_received, unit_cost, received_at, receipt_seq, receipt_id, source_batch_id, created_at)', 'part_batches'));
    this.addSql(revokeFromRuntime('insert, update', 'part_balances'));
    this.addSql(grantToRuntime('insert (tenant_id, part_id, location_id, created_at, updated_at)', 'part_balances'));
    // Only to lock the row (FOR UPDATE, ON CONFLICT DO UPDATE need an updatable column).
    this.addSql(grantToRuntime('update (updated_at)', 'part_balances'));
  }
}
