/**
 * Commit-ordered reads of the outbox: the one query behind ListEvents,
 * WatchEvents and the NATS relay. One statement computes the frontier (its
 * snapshot's xmin) and the events below it, so what it reports as covered
 * is exactly what it could see.
 */
import { binder, type Tx } from '../db/transaction.js';
import { belowFrontier, committedAfter, coveredTo, NODE_GROUP, SNAPSHOT_XMIN, type Position } from '../db/position.js';
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

/** An event read by readEventsPerNode, with the node it is on and that node's frontier when it was read. */
export interface NodeEvent {
  readonly node: number;
  readonly frontier: bigint;
  readonly event: EventView;
}

/**
 * Citus: the events of every tenant after relay `relay_name`'s position on
 * their node (event_relays, a row per node: migration 0015a), at most
 * `limit`, each node's in position order. Citus runs the statement on every
 * shard, on the shard's node, so the node, its position and its frontier
 * are all taken there. The position is joined, not passed in: a condition
 * with a function call (the node's) cannot bound the index scan under
 * row-level security, a join column can. Each row carries its shard's
 * frontier (every transaction below it had ended when the row was read);
 * shards of one node are read in separate statements, each below its own
 * frontier, so which of a node's rows are complete is decided with a
 * frontier read earlier (relay.ts).
 */
export async function readEventsPerNode(tx: Tx, relay_name: string, limit: number): Promise<NodeEvent[]> {
  const rows = await tx.queryDynamic<EventRow & { node: number }>(
    `select ${EVENT_COLUMNS}, r.node, ${SNAPSHOT_XMIN}::text as frontier
     from event_relays r
     join events e on (e.xid, e.id) > (r.xid, r.id)
     where r.name = $1 and r.node = ${NODE_GROUP} and e.xid < ${SNAPSHOT_XMIN}
     order by e.xid, e.id
     limit $2`,
    [relay_name, limit],
  );
  return rows.map((row) => ({ node: row.node, frontier: BigInt(row.frontier), event: toEvent(row) }));
}
