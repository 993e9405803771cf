/**
 * Reading the movement ledger, two ways:
 *  - pages, newest first, keyset-paged on (created_at, id), stable while
 *    new movements arrive;
 *  - polling after a position (migration 0008): oldest first in commit
 *    order, only movements of transactions that have all ended, so a
 *    movement that commits late is never behind a position already served.
 */
import { readLedgerAfter, type Position } from '../db/position.js';
import { binder, type TransactionRunner } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';
import { fromMicros, micros, type Micros } from '../shared/time.js';
import type { MovementType, MovementView, Page } from './model.js';
import { decodePageToken, pageOf, type PageScope } from '../shared/page-token.js';
import { toMovement, type MovementRow } from './rows.js';

export interface MovementFilter {
  readonly item_id?: string;
  readonly product_id?: string;
  readonly type?: MovementType;
  readonly reference?: string;
  /** Inclusive. */
  readonly start_time?: Micros;
  /** Exclusive. */
  readonly end_time?: Micros;
}

/** Movements after a position, and the position to poll after next. */
export interface MovementsAfter {
  readonly rows: readonly MovementView[];
  readonly last_position: Position;
}

const MOVEMENT_COLUMNS = `m.id as movement_id, m.public_id, m.xid::text as xid, m.item_id, i.product_id, m.type, m.quantity, m.on_hand_after,
  m.reference, m.notes, m.created_by, m.created_at::text as movement_created_at, ${micros('m.created_at')}::text as cursor_us`;

/** The WHERE conditions of `filter` on movements `m` joined to items `i`; $1 is the tenant. */
function filterConditions(filter: MovementFilter, bind: (value: unknown) => string): string[] {
  const where = ['m.tenant_id = $1'];
  if (filter.item_id !== undefined) where.push(`m.item_id = ${bind(filter.item_id)}::uuid`);
  if (filter.product_id !== undefined) where.push(`i.product_id = ${bind(filter.product_id)}`);
  if (filter.type !== undefined) where.push(`m.type = ${bind(filter.type)}`);
  if (filter.reference !== undefined) where.push(`m.reference = ${bind(filter.reference)}`);
  if (filter.start_time !== undefined) where.push(`m.created_at >= ${fromMicros(bind(String(filter.start_time)))}`);
  if (filter.end_time !== undefined) where.push(`m.created_at < ${fromMicros(bind(String(filter.end_time)))}`);
  return where;
}

export class Ledger {
  constructor(private readonly runner: TransactionRunner) {}

  listMovements(context: CallContext, filter: MovementFilter, page: { size: number; token: string }): Promise<Page<MovementView>> {
    const scope: PageScope = { tenant_id: context.caller.tenant_id, list: 'inventory.movements', filter };
    const after = decodePageToken(page.token, scope, ['integer', 'integer']);
    return this.runner.run(
      context,
      async (tx) => {
        const params: unknown[] = [tx.caller.tenant_id];
        const bind = binder(params);
        const where = filterConditions(filter, bind);
        if (after) where.push(`(m.created_at, m.id) < (${fromMicros(bind(after[0]))}, ${bind(after[1])}::bigint)`);
        const rows = await tx.queryDynamic<MovementRow & { cursor_us: string }>(
          `select ${MOVEMENT_COLUMNS}
           from inventory_movements m
           join inventory_items i on i.tenant_id = m.tenant_id and i.id = m.item_id
           where ${where.join(' and ')}
           order by m.created_at desc, m.id desc
           limit ${bind(page.size + 1)}`,
          params,
        );
        const listed = pageOf(rows, page.size, scope, (row) => [row.cursor_us, String(row.movement_id)], toMovement);
        return { rows: listed.items, next_page_token: listed.next_page_token };
      },
      { read_only: true },
    );
  }

  /** At most `limit` movements after `after` in commit order (oldest first). */
  movementsAfter(context: CallContext, filter: MovementFilter, after: Position, limit: number): Promise<MovementsAfter> {
    return this.runner.run(
      context,
      async (tx) => {
        const params: unknown[] = [tx.caller.tenant_id];
        const where = filterConditions(filter, binder(params));
        const from = `inventory_movements m join inventory_items i on i.tenant_id = m.tenant_id and i.id = m.item_id`;
        const read = await readLedgerAfter(tx, { columns: MOVEMENT_COLUMNS, from, where, params, limit }, after, (row: MovementRow) => toMovement(row));
        return { rows: read.views, last_position: read.last_position };
      },
      { read_only: true },
    );
  }
}
