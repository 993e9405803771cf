import { Migration } from '@mikro-orm/migrations';
import { appendOnly, CURRENT_TENANT, grantToRuntime, tenantTable } from './sql.js';

/** The maintenance task the hold sweeper declares (set_config, transaction-local). */
export const HOLD_EXPIRY_TASK = 'hold_expiry';
const MAINTENANCE = `current_setting('stockroom.maintenance', true)`;

/**
 * Holds that end on their own, and parts held for work orders (issue 11).
 *
 * Inventory: a reservation line gets an expire time and an `expired`
 * counter. The sweeper moves a line's held units to expired once its expire
 * time has passed and records each such release (inventory_hold_expiries,
 * append-only, reason EXPIRED). To find candidates across tenants it
 * declares itself (stockroom.maintenance = 'hold_expiry') in a tenant-less
 * transaction, which may then read only holds that are due; it releases
 * them in the holds' own tenant's transaction, like any other write.
 *
 * Parts: a work order holds quantity at a part's balance (not at a layer),
 * in part_work_order_holds. part_balances.qty_reserved is derived from the
 * holds by a trigger owned by the table owner, and CHECK qty_reserved <=
 * qty_on_hand defends the shelf: no stock path can take units a work order
 * holds. A hold's units only move from held to issued, released or expired
 * (or are added to by a reservation); the trigger refuses anything else.
 */
export class Migration0006Holds extends Migration {
  override name = '0006_holds';

  override up(): void {
    this.inventory();
    this.parts();
  }

  private sweepRead(table: string): string {
    return `create policy ${table}_expiry_sweep_read on ${table} for select
      using (${CURRENT_TENANT} is null and ${MAINTENANCE} = '${HOLD_EXPIRY_TASK}' and expires_at <= now())`;
  }

  private inventory(): void {
    this.addSql(`alter table inventory_reservations
      add column expires_at timestamptz,
      add column expired bigint not null default 0,
      add constraint inventory_reservations_expired_non_negative check (expired >= 0)`);
    // The sweeper's candidates (all tenants, soonest first) and the
    // operators' "expiring before" list; holds without a lifetime are not in it.
    this.addSql(`create index inventory_reservations_expiring on inventory_reservations (expires_at, tenant_id) where held > 0 and expires_at is not null`);
    this.addSql(this.sweepRead('inventory_reservations'));
    this.addSql(grantToRuntime('insert (expires_at), update (expires_at, expired)', 'inventory_reservations'));

    this.addSql(`create table inventory_hold_expiries (
      tenant_id text not null,
      id bigint generated always as identity (sequence name inventory_hold_expiries_id_seq),
      reference text not null,
      item_id uuid not null,
      quantity bigint not null,
      expire_time timestamptz not null,
      reason text not null default 'EXPIRED',
      created_by text not null,
      created_at timestamptz not null default now(),
      constraint inventory_hold_expiries_pkey primary key (tenant_id, id),
      constraint inventory_hold_expiries_line_fkey foreign key (tenant_id, reference, item_id)
        references inventory_reservations (tenant_id, reference, item_id),
      constraint inventory_hold_expiries_quantity_positive check (quantity > 0),
      constraint inventory_hold_expiries_reason_known check (reason in ('EXPIRED'))
    )`);
    this.addSql(`create index inventory_hold_expiries_by_reference on inventory_hold_expiries (tenant_id, reference, id)`);
    for (const statement of tenantTable('inventory_hold_expiries', ['SELECT', 'INSERT'])) this.addSql(statement);
    for (const statement of appendOnly('inventory_hold_expiries')) this.addSql(statement);
    this.addSql(grantToRuntime('usage', 'sequence inventory_hold_expiries_id_seq'));
  }

  private parts(): void {
    this.addSql(`alter table part_balances
      add column qty_reserved numeric(18,3) not null default 0,
      add constraint part_balances_reserved_non_negative check (qty_reserved >= 0),
      add constraint part_balances_reserved_within_on_hand check (qty_reserved <= qty_on_hand)`);

    // One row per (work order, part, location): held now, and what was
    // issued from the hold, released and expired over time. Never deleted.
    this.addSql(`create table part_work_order_holds (
      tenant_id text not null,
      work_order_id text not null,
      part_id uuid not null,
      location_id uuid not null,
      qty_held numeric(18,3) not null default 0,
      qty_issued numeric(18,3) not null default 0,
      qty_released numeric(18,3) not null default 0,
      qty_expired numeric(18,3) not null default 0,
      expires_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint part_work_order_holds_pkey primary key (tenant_id, work_order_id, part_id, location_id),
      constraint part_work_order_holds_balance_fkey foreign key (tenant_id, part_id, location_id)
        references part_balances (tenant_id, part_id, location_id),
      constraint part_work_order_holds_quantities_non_negative
        check (qty_held >= 0 and qty_issued >= 0 and qty_released >= 0 and qty_expired >= 0),
      constraint part_work_order_holds_work_order_length check (char_length(work_order_id) between 1 and 128)
    )`);
    this.addSql(`create index part_work_order_holds_open_by_balance on part_work_order_holds (tenant_id, part_id, location_id) where qty_held > 0`);
    this.addSql(`create index part_work_order_holds_expiring on part_work_order_holds (expires_at, tenant_id) where qty_held > 0 and expires_at is not null`);
    for (const statement of tenantTable('part_work_order_holds', ['SELECT', 'INSERT', 'UPDATE'])) this.addSql(statement);
    this.addSql(this.sweepRead('part_work_order_holds'));

    // Reserved is derived from the holds, in the transaction that changes them.
    this.addSql(`create function stockroom_part_hold_apply() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $$
      declare
        change numeric;
      begin
        if tg_op = 'INSERT' then
          if new.qty_issued <> 0 or new.qty_released <> 0 or new.qty_expired <> 0 then
            raise exception 'a new work-order hold starts with nothing issued, released or expired'
              using errcode = 'check_violation', constraint = 'part_work_order_holds_moves', table = 'part_work_order_holds';
          end if;
          change := new.qty_held;
        else
          if new.qty_issued < old.qty_issued or new.qty_released < old.qty_released or new.qty_expired < old.qty_expired
             or ((old.qty_held - new.qty_held) <> (new.qty_issued - old.qty_issued) + (new.qty_released - old.qty_released) + (new.qty_expired - old.qty_expired)
                 and not (new.qty_held > old.qty_held and new.qty_issued = old.qty_issued
                          and new.qty_released = old.qty_released and new.qty_expired = old.qty_expired)) then
            raise exception 'a work-order hold changes only by reserve, issue, release or expiry'
              using errcode = 'check_violation', constraint = 'part_work_order_holds_moves', table = 'part_work_order_holds';
          end if;
          change := new.qty_held - old.qty_held;
        end if;
        if change <> 0 then
          update part_balances b set qty_reserved = b.qty_reserved + change, updated_at = now()
           where b.tenant_id = new.tenant_id and b.part_id = new.part_id and b.location_id = new.location_id;
        end if;
        return null;
      end $$`);
    this.addSql(`create trigger part_work_order_holds_apply after insert or update on part_work_order_holds
      for each row execute function stockroom_part_hold_apply()`);
  }
}
