/**
 * The SQL of the stock paths, as named prepared statements: PostgreSQL plans
 * each once per connection. Every statement filters by tenant_id = $1 (RLS
 * filters again). The write statements change layers, write the ledger and
 * the work-order lines in ONE statement each (data-modifying CTEs fed by
 * unnest), so an operation costs the same few round trips however many
 * layers it touches.
 *
 * Lock order, the same in every path: the balance row(s) of the part and
 * location(s) (a transfer's two in location id order), then the layers in
 * FIFO order. Nothing locks a layer without holding its balance row.
 */
import { sql } from '../db/transaction.js';
import { batchColumns, fromMicros, micros } from './rows.js';

/**
 * Locks the balance and takes `qty` off it if that much is free (on hand
 * less what work orders hold, migration 0006), in one
 * statement: zero rows means unknown part or location, or not enough stock
 * (DIAGNOSE tells which). Waiting for the lock re-reads the row, so the
 * check always sees the last committed quantity.
 * $1 tenant, $2 part, $3 location, $4 qty.
 */
export const DEBIT_BALANCE = sql(
  'parts_debit_balance',
  `update part_balances b set qty_on_hand = b.qty_on_hand - $4::numeric, updated_at = now()
   from parts p, locations l
   where b.tenant_id = $1 and b.part_id = $2 and b.location_id = $3 and b.qty_on_hand - b.qty_reserved >= $4::numeric
     and p.tenant_id = $1 and p.id = $2 and l.tenant_id = $1 and l.id = $3
   returning p.part_number, l.site, l.name as location_name, b.qty_on_hand, b.qty_reserved`,
);

/**
 * Locks the balance (creating it at 0 the first time) and adds `qty` (0 to
 * only lock). No row: unknown part; null site: unknown location.
 * $1 tenant, $2 part, $3 location, $4 qty.
 */
export const CREDIT_BALANCE = sql(
  'parts_credit_balance',
  `with part as (select id, part_number, last_price from parts where tenant_id = $1 and id = $2),
   place as (select id, site, name from locations where tenant_id = $1 and id = $3),
   balance as (
     insert into part_balances as b (tenant_id, part_id, location_id, qty_on_hand)
     select $1::text, part.id, place.id, $4::numeric from part, place
     on conflict (tenant_id, part_id, location_id)
       do update set qty_on_hand = b.qty_on_hand + excluded.qty_on_hand, updated_at = now()
     returning b.qty_on_hand, b.qty_reserved
   )
   select part.part_number, part.last_price, place.site, place.name as location_name, balance.qty_on_hand, balance.qty_reserved
   from part left join place on true left join balance on true`,
);

/** Applies a signed change to a balance this transaction has locked. $1 tenant, $2 part, $3 location, $4 delta. */
export const ADD_TO_BALANCE = sql(
  'parts_add_to_balance',
  `update part_balances set qty_on_hand = qty_on_hand + $4::numeric, updated_at = now()
   where tenant_id = $1 and part_id = $2 and location_id = $3
   returning qty_on_hand`,
);

/** Why a debit found nothing: which of part, location, stock is missing. $1 tenant, $2 part, $3 location. */
export const DIAGNOSE = sql(
  'parts_diagnose',
  `select (select part_number from parts where tenant_id = $1 and id = $2) as part_number,
          exists (select 1 from locations where tenant_id = $1 and id = $3) as location_exists,
          (select qty_on_hand from part_balances where tenant_id = $1 and part_id = $2 and location_id = $3) as qty_on_hand,
          (select qty_reserved from part_balances where tenant_id = $1 and part_id = $2 and location_id = $3) as qty_reserved`,
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
 * The oldest layers with stock, locked, in FIFO order. Reads the partial
 * index part_batches_fifo, so the cost follows the layers returned, not the
 * used-up layers stored. $1 tenant, $2 part, $3 location, $4 limit.
 */
export const FIFO_FIRST = sql(
  'parts_fifo_first',
  `select ${FIFO_LAYER_COLUMNS} from part_batches
   where tenant_id = $1 and part_id = $2 and location_id = $3 and qty_on_hand > 0
   order by ${FIFO_ORDER}
   limit $4
   for update`,
);

/** The next layers after ($5 received µs, $6 receipt sequence). */
export const FIFO_NEXT = sql(
  'parts_fifo_next',
  `select ${FIFO_LAYER_COLUMNS} from part_batches
   where tenant_id = $1 and part_id = $2 and location_id = $3 and qty_on_hand > 0
     and (received_at, receipt_seq) > (${fromMicros('$5')}, $6::bigint)
   order by ${FIFO_ORDER}
   limit $4
   for update`,
);

/** One layer, locked (ReturnToVendor naming a batch). $1 tenant, $2 batch. */
export const LOCK_BATCH = sql(
  'parts_lock_batch',
  `select id, part_id, location_id, qty_on_hand, unit_cost, ${micros('received_at')} as received_us
   from part_batches where tenant_id = $1 and id = $2
   for update`,
);

/**
 * Changes existing layers by signed amounts and writes one movement per
 * layer, and (when $8 work order is not null) one work-order line per
 * movement with qty_used = -delta. Layer ids must be distinct, and at most
 * a few dozen per call (stock-repository.ts chunks): layers are found by
 * primary key (= any) and their delta by array position, a plan that cannot
 * turn quadratic whatever the planner believes about the table. The ledger
 * rows' foreign key proves each layer is the part's at the location.
 * $1 tenant, $2 part, $3 location, $4 layer ids, $5 deltas, $6 unit costs,
 * $7 type, $8 work order, $9 receipt id, $10 reason, $11 created by.
 */
export const CHANGE_LAYERS = sql(
  'parts_change_layers',
  `with input as (
     select * from unnest($4::uuid[], $5::numeric[], $6::numeric[]) with ordinality as x(batch_id, qty_delta, unit_cost, ord)
   ),
   layers as (
     update part_batches b set qty_on_hand = b.qty_on_hand + ($5::numeric[])[array_position($4::uuid[], b.id)]
     where b.tenant_id = $1 and b.id = any($4::uuid[])
     returning b.id
   ),
   movements as (
     insert into part_movements (tenant_id, type, part_id, location_id, batch_id, from_location_id, to_location_id,
                                 qty_delta, unit_cost, work_order_id, receipt_id, reason, created_by)
     select $1::text, $7::text, $2::uuid, $3::uuid, x.batch_id,
            case when x.qty_delta < 0 then $3::uuid end, case when x.qty_delta > 0 then $3::uuid end,
            x.qty_delta, x.unit_cost, $8::text, $9::text, $10::text, $11::text
     from input x
     order by x.ord
     returning id, batch_id
   ),
   lines as (
     insert into work_order_lines (tenant_id, work_order_id, part_id, location_id, batch_id, movement_id, qty_used, unit_cost_snapshot, total_cost)
     select $1::text, $8::text, $2::uuid, $3::uuid, m.batch_id, m.id, -x.qty_delta, x.unit_cost, -x.qty_delta * x.unit_cost
     from movements m join input x on x.batch_id = m.batch_id
     where $8::text is not null
     order by x.ord
     returning id, movement_id
   )
   select m.id::text as movement_id, l.id::text as line_id, (select count(*) from layers)::int as layers_changed
   from movements m left join lines l on l.movement_id = m.id
   order by m.id`,
);

/**
 * Adds a new layer and its movement (RECEIVE, or a positive ADJUSTMENT or
 * COUNT_ADJUST); a receipt also sets the part's last price.
 * $1 tenant, $2 part, $3 location, $4 qty, $5 unit cost, $6 received µs (null: now),
 * $7 receipt id, $8 type, $9 reason, $10 created by, $11 update last price.
 */
export const NEW_LAYER = sql(
  'parts_new_layer',
  `with layer as (
     insert into part_batches as nb (tenant_id, part_id, location_id, qty_received, qty_on_hand, unit_cost, received_at, receipt_id)
     values ($1, $2, $3, $4::numeric, $4::numeric, $5::numeric, coalesce(${fromMicros('$6')}, now()), $7::text)
     returning ${batchColumns('nb')}
   ),
   movement as (
     insert into part_movements (tenant_id, type, part_id, location_id, batch_id, to_location_id, qty_delta, unit_cost, receipt_id, reason, created_by)
     select $1::text, $8::text, $2::uuid, $3::uuid, layer.id, $3::uuid, $4::numeric, $5::numeric, $7::text, $9::text, $10::text
     from layer
     returning id
   ),
   price as (
     update parts set last_price = $5::numeric, updated_at = now()
     where $11::boolean and tenant_id = $1 and id = $2
   )
   select layer.*, movement.id::text as movement_id from layer, movement`,
);

/**
 * Moves units of the given source layers to new layers at the destination
 * that keep each layer's received date, receipt sequence (its place in FIFO
 * order), unit cost and receipt id (copied in
 * SQL, so not even a microsecond is lost), with a TRANSFER_OUT and a
 * TRANSFER_IN movement per layer.
 * $1 tenant, $2 part, $3 from location, $4 to location, $5 layer ids, $6 qtys, $7 created by.
 */
export const TRANSFER_LAYERS = sql(
  'parts_transfer_layers',
  `with input as (
     select * from unnest($5::uuid[], $6::numeric[]) with ordinality as x(batch_id, qty, ord)
   ),
   source as (
     update part_batches b set qty_on_hand = b.qty_on_hand - ($6::numeric[])[array_position($5::uuid[], b.id)]
     where b.tenant_id = $1 and b.id = any($5::uuid[])
     returning b.id, b.unit_cost, b.received_at, b.receipt_seq, b.receipt_id
   ),
   created as (
     insert into part_batches (tenant_id, part_id, location_id, qty_received, qty_on_hand, unit_cost, received_at, receipt_seq, receipt_id, source_batch_id)
     select $1::text, $2::uuid, $4::uuid, x.qty, x.qty, s.unit_cost, s.received_at, s.receipt_seq, s.receipt_id, s.id
     from input x join source s on s.id = x.batch_id
     order by x.ord
     returning id, source_batch_id
   ),
   outs as (
     insert into part_movements (tenant_id, type, part_id, location_id, batch_id, from_location_id, to_location_id, qty_delta, unit_cost, created_by)
     select $1::text, 'TRANSFER_OUT', $2::uuid, $3::uuid, x.batch_id, $3::uuid, $4::uuid, -x.qty, s.unit_cost, $7::text
     from input x join source s on s.id = x.batch_id
     order by x.ord
     returning id, batch_id
   ),
   ins as (
     insert into part_movements (tenant_id, type, part_id, location_id, batch_id, from_location_id, to_location_id, qty_delta, unit_cost, created_by)
     select $1::text, 'TRANSFER_IN', $2::uuid, $4::uuid, c.id, $3::uuid, $4::uuid, x.qty, s.unit_cost, $7::text
     from input x join source s on s.id = x.batch_id join created c on c.source_batch_id = x.batch_id
     order by x.ord
     returning id, batch_id
   )
   select x.batch_id, c.id as destination_batch_id, o.id::text as out_movement_id, i.id::text as in_movement_id
   from input x
   join created c on c.source_batch_id = x.batch_id
   join outs o on o.batch_id = x.batch_id
   join ins i on i.batch_id = c.id
   order by x.ord`,
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
