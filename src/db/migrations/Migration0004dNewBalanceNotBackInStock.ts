import { Migration } from '@mikro-orm/migrations';
import { ALERT_LEVEL } from './Migration0007Events.js';

/**
 * Where ledger-derived balances (0004b) meet threshold events (0007): a
 * place's first receipt creates its balance empty and the RECEIVE
 * movement's trigger then fills it, an UPDATE from 0 that the threshold
 * trigger read as BACK_IN_STOCK. A balance created in the same transaction
 * (created_at = now()) was never out of stock, so it raises no
 * BACK_IN_STOCK. Listed after 0007 (it replaces 0007's function), named in
 * issue 10's range.
 */
export class Migration0004dNewBalanceNotBackInStock extends Migration {
  override name = '0004d_new_balance_not_back_in_stock';

  override up(): void {
    this.addSql(`create or replace function stockroom_events_threshold() returns trigger
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
        -- A balance created empty by this transaction (a place's first receipt:
        -- its movement fills it, migration 0004b) was never out of stock.
        if after_level = 0 and before_level > 0 and old.created_at <> now() then
          perform stockroom_emit_alert(is_item, new, 'BACK_IN_STOCK');
        end if;
        return null;
      end $$`);
  }
}
