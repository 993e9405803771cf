/**
 * Commit-ordered reads of the outbox: the one query behind ListEvents,
 * WatchEvents and the NATS relay. One statement computes the frontier (its
 * snapshot's xmin) and the events below it, so what it reports as covered
 * is exactly what it could see.
 */
import { binder, type Tx } from '../db/transaction.js';
import { belowFrontier, committedAfter, coveredTo, type Position } from '../db/position.js';
import { micros } from '../shared/time.js';
import type { EventBatch, EventFilter, EventType, EventView } from './model.js';

interface EventRow {
  frontier: string;
  seq: string | null;
  xid: string;
  event_id: string;
  type: EventType;
  tenant_id: string;
  product_id: string | null;
  item_id: string | null;
  part_id: string | null;
  location_id: string | null;
  reference: string;
  quantity: string | null;
  on_hand: string | null;
  reserved: string | null;
  reorder_point: string | null;
  movement_ids: string[];
  caller: string;
  created_us: string;
}

const EVENT_COLUMNS = `e.id::text as seq, e.xid::text as xid, e.event_id, e.type, e.tenant_id, e.product_id, e.item_id, e.part_id,
  e.location_id, e.reference, e.quantity::text as quantity, e.on_hand::text as on_hand, e.reserved::text as reserved,
  e.reorder_point::text as reorder_point, e.movement_ids::text[] as movement_ids, e.caller,
  ${micros('e.created_at')}::text as created_us`;

function toEvent(row: EventRow): EventView {
  return {
    event_id: row.event_id,
    position: { xid: BigInt(row.xid), id: BigInt(row.seq!) },
    type: row.type,
    tenant_id: row.tenant_id,
    product_id: row.product_id,
    item_id: row.item_id,
    part_id: row.part_id,
    location_id: row.location_id,
    reference: row.reference,
    quantity: row.quantity,
    on_hand: row.on_hand,
    reserved: row.reserved,
    reorder_point: row.reorder_point,
    movement_ids: row.movement_ids,
    caller: row.caller,
    created_us: BigInt(row.created_us),
  };
}

/**
 * Events after `after` that match `filter`, at most `limit`, in position
 * order. `all_tenants` reads every tenant (the relay, which declares itself
 * as maintenance first); otherwise the transaction's tenant only.
 */
export async function readEvents(tx: Tx, after: Position, filter: EventFilter, limit: number, all_tenants = false): Promise<EventBatch> {
  const params: unknown[] = [String(after.xid), String(after.id)];
  const bind = binder(params);
  const where = [committedAfter('e', '$1', '$2', 'f.xmin')];
  // With the tenant's rows first in the sort key, the primary key (tenant_id, xid, id) serves the order.
  if (!all_tenants) where.push(`e.tenant_id = ${bind(tx.caller.tenant_id)}`);
  if (filter.types.length > 0) where.push(`e.type = any(${bind(filter.types)}::text[])`);
  const subjects: string[] = [];
  if (filter.product_ids.length > 0) subjects.push(`e.product_id = any(${bind(filter.product_ids)}::text[])`);
  if (filter.part_ids.length > 0) subjects.push(`e.part_id = any(${bind(filter.part_ids)}::uuid[])`);
  if (subjects.length > 0) where.push(`(${subjects.join(' or ')})`);
  const rows = await tx.queryDynamic<EventRow>(
    belowFrontier(
      `select ${EVENT_COLUMNS} from events e
       where ${where.join(' and ')}
       order by ${all_tenants ? '' : 'e.tenant_id, '}e.xid, e.id
       limit ${bind(limit)}`,
    ),
    params,
  );
  const events = rows.filter((row) => row.seq !== null).map(toEvent);
  const covered = coveredTo(after, events.at(-1)?.position, events.length >= limit, rows[0].frontier);
  return { events, covered };
}
