import { Migration } from '@mikro-orm/migrations';

/**
 * Events for work-order holds of parts (issue 12 on top of issue 11): the
 * same RESERVATION_CREATED / RESERVATION_RELEASED / RESERVATION_EXPIRED as
 * inventory holds, with the part and location as subject and the work order
 * as reference. (Migration 0012 adds RESERVATION_COMMITTED for an issue
 * that consumes a hold.) The trigger's name sorts after part_work_order_holds_apply (AFTER
 * row triggers of a table fire by name), so the balance it reads already
 * counts the hold.
 */
export class Migration0007bWorkOrderHoldEvents extends Migration {
  override name = '0007b_work_order_hold_events';

  override up(): void {
    this.addSql(`create function stockroom_events_part_hold() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $$
      declare
        event_type text := 'RESERVATION_CREATED';
        quantity numeric := new.qty_held - coalesce(old.qty_held, 0);
      begin
        if new.qty_expired > coalesce(old.qty_expired, 0) then
          event_type := 'RESERVATION_EXPIRED';
          quantity := new.qty_expired - old.qty_expired;
        elsif new.qty_released > coalesce(old.qty_released, 0) then
          event_type := 'RESERVATION_RELEASED';
          quantity := new.qty_released - old.qty_released;
        end if;
        insert into events (tenant_id, type, part_id, location_id, reference, quantity, on_hand, reserved, reorder_point)
        select new.tenant_id, event_type, new.part_id, new.location_id, new.work_order_id, quantity, b.qty_on_hand, b.qty_reserved, b.reorder_point
        from part_balances b where b.tenant_id = new.tenant_id and b.part_id = new.part_id and b.location_id = new.location_id;
        return null;
      end $$`);
    this.addSql(`create trigger part_work_order_holds_event_created after insert on part_work_order_holds
      for each row when (new.qty_held > 0) execute function stockroom_events_part_hold()`);
    this.addSql(`create trigger part_work_order_holds_event_changed after update on part_work_order_holds
      for each row when (new.qty_held > old.qty_held or new.qty_released > old.qty_released or new.qty_expired > old.qty_expired)
      execute function stockroom_events_part_hold()`);
  }
}
