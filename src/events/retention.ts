/**
 * Retention of the outbox (issue 12): events older than the configured
 * period are deleted in bounded batches, each batch its own short
 * transaction, oldest first. Events a NATS relay has not yet published are
 * kept whatever their age, so a broker outage longer than the retention
 * period loses nothing.
 */
import { EVENTS_PURGE_TASK } from '../db/migrations/Migration0007Events.js';
import { NODE_GROUP } from '../db/position.js';
import { sql, type TransactionRunner } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';

/** Rows one purge statement deletes. */
export const EVENTS_PURGE_BATCH_ROWS = 1_000;
/** Batches one sweep runs at most; the next sweep continues. */
export const EVENTS_PURGE_BATCHES_MAX = 1_000;


// $1 retention in hours, $2 batch rows, $3 relay name (null: no relay). The
// relay's position is per node (migration 0015a): each event is compared
// with its own node's, taken on that node (on Citus each shard's part of
// the statement runs on the shard's node).
const PURGE_BATCH = sql(
  'events_purge_batch',
  `with relayed as (select node, xid, id from event_relays where name = $3),
   gone as (
     delete from events
     where (tenant_id, xid, id) in (
       select e.tenant_id, e.xid, e.id from events e
       where e.created_at < now() - make_interval(hours => $1::int)
         and ($3::text is null or exists (select 1 from relayed r where r.node = ${NODE_GROUP} and (e.xid, e.id) <= (r.xid, r.id)))
       order by e.xid, e.id
       limit $2)
     returning 1)
   select count(*)::int as purged from gone`,
);

const SWEEPER: CallContext = { caller: { tenant_id: '', subject: 'stockroom', roles: new Set() } };

export interface EventPurgeResult {
  readonly purged: number;
  readonly batches: number;
  /** False when the sweep stopped at its batch limit with old events left. */
  readonly complete: boolean;
}

export async function purgeEvents(
  runner: TransactionRunner,
  options: { retention_hours: number; relay_name?: string; batch_rows?: number; batches_max?: number },
): Promise<EventPurgeResult> {
  const batch_rows = options.batch_rows ?? EVENTS_PURGE_BATCH_ROWS;
  const batches_max = options.batches_max ?? EVENTS_PURGE_BATCHES_MAX;
  let purged = 0;
  for (let batches = 1; batches <= batches_max; batches++) {
    const deleted = await runner.run(
      SWEEPER,
      async (tx) => {
        const [row] = await tx.query<{ purged: number }>(PURGE_BATCH, [options.retention_hours, batch_rows, options.relay_name ?? null]);
        return row.purged;
      },
      { maintenance_task: EVENTS_PURGE_TASK },
    );
    purged += deleted;
    if (deleted < batch_rows) return { purged, batches, complete: true };
  }
  return { purged, batches: batches_max, complete: false };
}
