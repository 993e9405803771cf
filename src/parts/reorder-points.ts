/**
 * Reorder points per part and location (issue 12): a minimum quantity, kept
 * on the place's balance row, that the alert trigger of migration 0007
 * compares each change of qty_on_hand against (LOW_STOCK / BACK_IN_STOCK).
 */
import { sql, type TransactionRunner } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';
import type { DecimalValue } from '../shared/decimal.js';
import { NotFoundError } from '../shared/errors.js';

/**
 * Sets the reorder point, creating the place's balance at zero if it has
 * none yet, in one call (migration 0014a: Citus runs it whole on the
 * tenant's node). $1 tenant, $2 part, $3 location, $4 reorder point (null clears).
 */
const SET_REORDER_POINT = sql('parts_set_reorder_point', `select * from stockroom_tenant_parts_set_reorder_point($1, $2, $3, $4::numeric)`);

export interface ReorderPointView {
  readonly part_id: string;
  readonly location_id: string;
  readonly reorder_point: string | null;
  readonly qty_on_hand: string;
}

export class ReorderPoints {
  constructor(private readonly runner: TransactionRunner) {}

  set(context: CallContext, place: { part_id: string; location_id: string }, reorder_point: DecimalValue | null): Promise<ReorderPointView> {
    return this.runner.run(context, async (tx) => {
      const [row] = await tx.query<{ part_found: boolean; location_found: boolean; qty_on_hand: string | null; reorder_point: string | null }>(
        SET_REORDER_POINT,
        [tx.caller.tenant_id, place.part_id, place.location_id, reorder_point === null ? null : reorder_point.toFixed(3)],
      );
      if (!row.part_found) throw new NotFoundError('part', place.part_id, 'part_id');
      if (!row.location_found) throw new NotFoundError('location', place.location_id, 'location_id');
      return { ...place, reorder_point: row.reorder_point, qty_on_hand: row.qty_on_hand ?? '0.000' };
    });
  }
}
