/**
 * The SQL of the stock paths, as named prepared statements: PostgreSQL plans
 * each once per connection. Every statement filters by tenant_id = $1 (RLS
 * filters again). The writes are functions of the tenant (migration 0014a:
 * one call writes the ledger rows and work-order lines of a chunk of layers,
 * and Citus runs the call whole on the tenant's node), so an operation costs
 * the same few round trips however many layers it touches.
 *
 * Quantities are derived by the database (migration 0004b): a movement's
 * trigger applies it to its layer and to the part's balance at the
 * location; the runtime role cannot write either quantity. So these
 * statements lock, read and write movements; what they report as a
 * quantity after the change is the locked value plus the change.
 *
 * Lock order: src/db/lock-order.ts. Layers are never locked by these
 * statements, only by the movement triggers that change them, and always
 * under their balance's lock, which guards them: every change to a layer
 * holds its balance, so layers are read under it without locks of their own.
 */
import { sql } from '../db/transaction.js';
import { fromMicros, micros } from './rows.js';

/**
 * Locks the balance if `qty` of it is free (on hand less what work orders
 * hold, migration 0006), in one statement: zero rows means unknown part or
 * location, or not enough free stock (DIAGNOSE, which locks, tells which).
 * Waiting for the lock re-reads the row, so the check always sees the last
 * committed quantity. The movements written next take the units off;
 * qty_on_hand here is the balance after them.
 * $1 tenant, $2 part, $3 location, $4 qty.
 */
export const DEBIT_BALANCE = sql(
  'parts_debit_balance',
  `select p.part_number, l.site, l.name as location_name, b.qty_on_hand - $4::numeric as qty_on_hand, b.qty_reserved
   from part_balances b
   join parts p on p.tenant_id = b.tenant_id and p.id = b.part_id
   join locations l on l.tenant_id = b.tenant_id and l.id = b.location_id
   where b.tenant_id = $1 and b.part_id = $2 and b.location_id = $3 and b.qty_on_hand - b.qty_reserved >= $4::numeric
   for update of b`,
);

/**
 * Locks the part (key share: it cannot be deleted under us; taken before
 * the balance, as the lock order says, also when the balance is new and its
 * foreign key would otherwise lock the part after it) and then the balance,
 * creating it empty the first time. No row: unknown part; null site:
 * unknown location. qty_on_hand is the balance after the `qty` (0 to only
 * lock) that the movements written next add. With the part locked (and
 * locations never deleted by the runtime role), the new balance's foreign
 * keys cannot fail.
 * $1 tenant, $2 part, $3 location, $4 qty.
 */
export const CREDIT_BALANCE = sql('parts_credit_balance', `select * from stockroom_tenant_parts_credit_balance($1, $2, $3, $4::numeric)`);

/**
 * Why a debit found nothing: which of part, location, free stock is missing.
 * The balance is read under its lock, so the numbers a refusal reports are
 * the ones it was refused on (an unlocked read could see a later receipt).
 * $1 tenant, $2 part, $3 location.
 */
export const DIAGNOSE = sql(
  'parts_diagnose',
  `with b as (
     select qty_on_hand, qty_reserved from part_balances where tenant_id = $1 and part_id = $2 and location_id = $3 for update
   )
   select (select part_number from parts where tenant_id = $1 and id = $2) as part_number,
          exists (select 1 from locations where tenant_id = $1 and id = $3) as location_exists,
          (select qty_on_hand from b) as qty_on_hand, (select qty_reserved from b) as qty_reserved`,
);

const FIFO_LAYER_COLUMNS = `id, qty_on_hand, unit_cost, ${micros('received_at')} as received_us, receipt_seq`;

/**
 * FIFO order, the one key every reader of layers uses (allocation,
 * ListBatches, transfers, the health check): received date, then the
 * receipt sequence, so same-day receipts go out in the order they were
 * booked. Ids are random and never order layers.
 */
export const FIFO_ORDER = 'received_at, receipt_seq';

/**
 * The oldest layers with stock, in FIFO order, read under the balance lock
 * (which guards them). Reads the partial index part_batches_fifo, so the
 * cost follows the layers returned, not the used-up layers stored.
 * $1 tenant, $2 part, $3 location, $4 limit.
 */
export const FIFO_FIRST = sql(
  'parts_fifo_first',
  `select ${FIFO_LAYER_COLUMNS} from part_batches
   where tenant_id = $1 and part_id = $2 and location_id = $3 and qty_on_hand > 0
   order by ${FIFO_ORDER}
   limit $4`,
);

/** The next layers after ($5 received µs, $6 receipt sequence). */
export const FIFO_NEXT = sql(
  'parts_fifo_next',
  `select ${FIFO_LAYER_COLUMNS} from part_batches
   where tenant_id = $1 and part_id = $2 and location_id = $3 and qty_on_hand > 0
     and (received_at, receipt_seq) > (${fromMicros('$5')}, $6::bigint)
   order by ${FIFO_ORDER}
   limit $4`,
);

/**
 * One layer (ReturnToVendor naming a batch), read under its balance's lock
 * and never locked itself: a layer of another place is only read, and
 * refused. $1 tenant, $2 batch.
 */
export const READ_BATCH = sql(
  'parts_read_batch',
  `select id, part_id, location_id, qty_on_hand, unit_cost, ${micros('received_at')} as received_us
   from part_batches where tenant_id = $1 and id = $2`,
);

/**
 * Changes existing layers by signed amounts: writes one movement per layer
 * (its trigger changes the layer and the balance, and refuses a layer that
 * is not the part's at the location), and (when $8 work order is not null)
 * one work-order line per movement with qty_used = -delta. Layer ids must
 * be distinct, and at most a few dozen per call (stock-repository.ts
 * chunks), so the plan stays the one made for a few layers.
 * $1 tenant, $2 part, $3 location, $4 layer ids, $5 deltas, $6 unit costs,
 * $7 type, $8 work order, $9 receipt id, $10 reason, $11 created by.
 */
export const CHANGE_LAYERS = sql(
  'parts_change_layers',
  `select * from stockroom_tenant_parts_change_layers($1, $2, $3, $4::uuid[], $5::numeric[], $6::numeric[], $7, $8, $9, $10, $11)`,
);

/**
 * Adds a new layer and its movement (RECEIVE, or a positive ADJUSTMENT or
 * COUNT_ADJUST), whose trigger fills the layer and adds to the balance; a
 * receipt also sets the part's last price.
 * $1 tenant, $2 part, $3 location, $4 qty, $5 unit cost, $6 received µs (null: now),
 * $7 receipt id, $8 type, $9 reason, $10 created by, $11 update last price.
 */
export const NEW_LAYER = sql(
  'parts_new_layer',
  `select * from stockroom_tenant_parts_new_layer($1, $2, $3, $4::numeric, $5::numeric, $6::bigint, $7, $8, $9, $10, $11::boolean)`,
);

/**
 * Moves units of the given source layers to new layers at the destination
 * that keep each layer's received date, receipt sequence (its place in FIFO
 * order), unit cost and receipt id (copied in
 * SQL, so not even a microsecond is lost), with a TRANSFER_OUT and a
 * TRANSFER_IN movement per layer (their triggers move the units).
 * $1 tenant, $2 part, $3 from location, $4 to location, $5 layer ids, $6 qtys, $7 created by.
 */
export const TRANSFER_LAYERS = sql(
  'parts_transfer_layers',
  `select * from stockroom_tenant_parts_transfer_layers($1, $2, $3, $4, $5::uuid[], $6::numeric[], $7)`,
);

/**
 * What a work order still holds of one part from one location, as a LIFO
 * stack of its issue lines, and the part of each line a return of $5 takes.
 *
 * Lines in id order move the stack level S: an issue pushes, a return pops
 * (every return popped from the top, by this same rule). The units of issue
 * line i sit at levels (S(i-1), S(i-1) + qty] and are still held exactly up
 * to the lowest level the stack fell to afterwards: remaining = clamp(min
 * S(t >= i) - S(i-1), 0, qty). The survivors stack up to the net issued N
 * without gaps, so a return of $5 takes levels (N - $5, N]: newest issue
 * first, each at the cost it was issued at.
 * Always one row (the net), plus the lines involved; $6 caps the lines.
 * $1 tenant, $2 work order, $3 part, $4 location, $5 qty, $6 limit.
 */
export const RETURN_STACK = sql(
  'parts_return_stack',
  `with lines as (
     select id, batch_id, qty_used, unit_cost_snapshot, sum(qty_used) over (order by id) as level_after
     from work_order_lines
     where tenant_id = $1 and work_order_id = $2 and part_id = $3 and location_id = $4
   ),
   levels as (
     select id, batch_id, qty_used, unit_cost_snapshot, level_after - qty_used as level_before,
            min(level_after) over (order by id rows between current row and unbounded following) as lowest_after
     from lines
   ),
   stack as (
     select id, batch_id, unit_cost_snapshot, level_before,
            greatest(0, least(qty_used, lowest_after - level_before)) as remaining
     from levels where qty_used > 0
   ),
   net as (
     select coalesce((select level_after from lines order by id desc limit 1), 0) as net_issued
   )
   select n.net_issued, s.id::text as line_id, s.batch_id, s.unit_cost_snapshot, s.level_before, s.remaining,
          ${micros('b.received_at')} as received_us
   from net n
   left join stack s on s.remaining > 0 and s.level_before + s.remaining > n.net_issued - $5::numeric
   left join part_batches b on b.tenant_id = $1 and b.id = s.batch_id
   order by s.id desc
   limit $6`,
);
