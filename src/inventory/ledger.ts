/**
 * Reading the movement ledger: newest first, keyset-paged on
 * (created_at, id) so pages stay stable while new movements arrive.
 */
import type { TransactionRunner } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';
import type { MovementType, MovementView, Page } from './model.js';
import { decodePageToken, pageOf, type PageScope } from '../shared/page-token.js';
import { toMovement, type MovementRow } from './rows.js';

export interface MovementFilter {
  readonly item_id?: string;
  readonly product_id?: string;
  readonly type?: MovementType;
  readonly reference?: string;
  /** Inclusive. */
  readonly start_time?: Date;
  /** Exclusive. */
  readonly end_time?: Date;
}

const MOVEMENT_COLUMNS = `m.id as movement_id, m.item_id, i.product_id, m.type, m.quantity, m.on_hand_after,
  m.reference, m.notes, m.created_by, m.created_at as movement_created_at, m.created_at::text as cursor_time`;


export class Ledger {
  constructor(private readonly runner: TransactionRunner) {}

  listMovements(context: CallContext, filter: MovementFilter, page: { size: number; token: string }): Promise<Page<MovementView>> {
    const scope: PageScope = { tenant_id: context.caller.tenant_id, list: 'inventory.movements', filter };
    const after = decodePageToken(page.token, scope, ['timestamp', 'integer']);
    return this.runner.run(
      context,
      async (tx) => {
        const params: unknown[] = [tx.caller.tenant_id];
        const where = ['m.tenant_id = $1'];
        const bind = (value: unknown) => `$${params.push(value)}`;
        if (filter.item_id !== undefined) where.push(`m.item_id = ${bind(filter.item_id)}::uuid`);
        if (filter.product_id !== undefined) where.push(`i.product_id = ${bind(filter.product_id)}`);
        if (filter.type !== undefined) where.push(`m.type = ${bind(filter.type)}`);
        if (filter.reference !== undefined) where.push(`m.reference = ${bind(filter.reference)}`);
        if (filter.start_time !== undefined) where.push(`m.created_at >= ${bind(filter.start_time.toISOString())}::timestamptz`);
        if (filter.end_time !== undefined) where.push(`m.created_at < ${bind(filter.end_time.toISOString())}::timestamptz`);
        if (after) {
          where.push(`(m.created_at, m.id) < (${bind(after[0])}::timestamptz, ${bind(after[1])}::bigint)`);
        }
        const rows = await tx.queryDynamic<MovementRow & { cursor_time: string }>(
          `select ${MOVEMENT_COLUMNS}
           from inventory_movements m
           join inventory_items i on i.tenant_id = m.tenant_id and i.id = m.item_id
           where ${where.join(' and ')}
           order by m.created_at desc, m.id desc
           limit ${bind(page.size + 1)}`,
          params,
        );
        const listed = pageOf(rows, page.size, scope, (row) => [row.cursor_time, String(row.movement_id)], toMovement);
        return { rows: listed.items, next_page_token: listed.next_page_token };
      },
      { read_only: true },
    );
  }
}
