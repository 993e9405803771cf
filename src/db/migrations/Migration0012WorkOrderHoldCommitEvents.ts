import { Migration } from '@mikro-orm/migrations';

/**
 * An issue that takes units from a work order's own hold now writes
 * RESERVATION_COMMITTED for those units (reference: the work order), as
 * CommitOutbound does for an inventory hold, next to the issue's own
 * PARTS_ISSUED. Before, the hold shrank with no reservation event, so a
 * consumer following reservations saw units held that were already gone.
 */
export class Migration0012WorkOrderHoldCommitEvents extends Migration {
  override name = '0012_work_order_hold_commit_events';

  override up(): void {
    this.addSql(`create or replace function stockroom_events_part_hold() returns trigger
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
        elsif new.qty_issued > coalesce(old.qty_issued, 0) then
          -- Negative, as for CommitOutbound: the units left the store.
          event_type := 'RESERVATION_COMMITTED';
          quantity := old.qty_issued - new.qty_issued;
        end if;
        insert into events (tenant_id, type, part_id, location_id, reference, quantity, on_hand, reserved, reorder_point)
        select new.tenant_id, event_type, new.part_id, new.location_id, new.work_order_id, quantity, b.qty_on_hand, b.qty_reserved, b.reorder_point
        from part_balances b where b.tenant_id = new.tenant_id and b.part_id = new.part_id and b.location_id = new.location_id;
        return null;
      end $$`);
    this.addSql(`drop trigger part_work_order_holds_event_changed on part_work_order_holds`);
    this.addSql(`create trigger part_work_order_holds_event_changed after update on part_work_order_holds
      for each row when (new.qty_held > old.qty_held or new.qty_released > old.qty_released
        or new.qty_expired > old.qty_expired or new.qty_issued > old.qty_issued)
      execute function stockroom_events_part_hold()`);
  }
}
