import { Migration } from '@mikro-orm/migrations';
import { grantToRuntime, revokeFromRuntime } from './sql.js';

/** The two movement ledgers a reader can poll by position. */
export const POSITIONED_LEDGERS = ['inventory_movements', 'part_movements'] as const;

/**
 * Readers never miss a row (issue 10, item 6). The ledgers were paged by
 * (created_at, id): created_at is the transaction's start and id a global
 * identity, so a movement that commits late lands behind a cursor a poller
 * has already passed. Each movement now records the id of the transaction
 * that wrote it (xid8), the mechanism of the events outbox (migration 0007):
 * readers order by (xid, id) and return only rows whose xid is below their
 * snapshot's xmin, so a position only grows (src/db/position.ts).
 *
 * Existing movements get xid 0 (a constant default, no table rewrite): they
 * all committed long ago, and (0, id) sorts them before every new one.
 *
 * The runtime role may not write xid: its INSERT privilege becomes a column
 * list without it, so a forged position (e.g. 0, behind every poller) is
 * refused by PostgreSQL.
 */
export class Migration0008LedgerPositions extends Migration {
  override name = '0008_ledger_positions';

  override up(): void {
    for (const table of POSITIONED_LEDGERS) {
      this.addSql(`alter table ${table} add column xid xid8 not null default '0'`);
      this.addSql(`alter table ${table} alter column xid set default pg_current_xact_id()`);
      // Polling a tenant's ledger in position order.
      this.addSql(`create index ${table}_by_position on ${table} (tenant_id, xid, id)`);
    }
    this.addSql(revokeFromRuntime('insert', 'inventory_movements'));
    this.addSql(grantToRuntime('insert (tenant_id, item_id, type, quantity, on_hand_after, reference, notes, created_by, created_at)', 'inventory_movements'));
    this.addSql(revokeFromRuntime('insert', 'part_movements'));
    this.addSql(
      grantToRuntime(
        `insert (tenant_id, type, part_id, location_id, batch_id, from_location_id, to_location_id, qty_delta, unit_cost,
                 work_order_id, receipt_id, reason, created_by, created_at)`,
        'part_movements',
      ),
    );
  }
}
