/**
 * The statements of the raw-db ceiling: the SQL the service sends for each
 * scenario, so that the ceiling does the same database work without gRPC,
 * handlers, the runner or the ORM. The parts statements are imported from
 * the service itself; the inventory ones are copied from
 * src/inventory/stock-repository.ts and must be kept equal to them.
 */
export { CHANGE_LAYERS, DEBIT_BALANCE, FIFO_FIRST, FIFO_NEXT } from '../../src/parts/stock-statements.js';

export interface RawStatement {
  readonly name: string;
  readonly text: string;
}

const ITEM_COLUMNS = `i.id, i.product_id, i.sku, i.name, i.on_hand, i.reserved, i.reorder_point, i.created_at, i.updated_at`;

/** src/db/transaction.ts: tenant for RLS, lock and statement timeouts, one round trip. */
export const SET_TRANSACTION_CONTEXT: RawStatement = {
  name: 'bench_raw_set_transaction_context',
  text: `select set_config('stockroom.tenant_id', $1, true),
          set_config('lock_timeout', $2, true),
          set_config('statement_timeout', $3, true)`,
};

export const LOCK_ITEMS_BY_PRODUCT: RawStatement = {
  name: 'bench_raw_lock_items_by_product',
  text: `select ${ITEM_COLUMNS} from inventory_items i
   where i.tenant_id = $1 and i.product_id = any($2::text[])
   order by i.id
   for update`,
};

export const READ_HOLDS: RawStatement = {
  name: 'bench_raw_read_holds',
  text: `select r.item_id, r.held, r.committed, r.released, r.created_at as line_created_at, r.updated_at as line_updated_at
   from inventory_reservations r
   where r.tenant_id = $1 and r.reference = $2 and r.item_id = any($3::uuid[])`,
};

export const READ_AVAILABILITY: RawStatement = {
  name: 'bench_raw_read_availability',
  text: `select i.id, i.product_id, i.on_hand, i.reserved from inventory_items i
   where i.tenant_id = $1 and i.product_id = any($2::text[])`,
};

const LINE_RESULT = `${ITEM_COLUMNS.replaceAll('i.', 'c.')},
  l.item_id, l.held, l.committed, l.released, l.created_at as line_created_at, l.updated_at as line_updated_at`;

export const APPLY_RESERVE: RawStatement = {
  name: 'bench_raw_apply_reserve',
  text: `with request as (
     select * from unnest($2::uuid[], $3::bigint[]) as u(item_id, quantity)
   ), c as (
     update inventory_items i set reserved = i.reserved + r.quantity, updated_at = now()
     from request r where i.tenant_id = $1 and i.id = r.item_id
     returning ${ITEM_COLUMNS}
   ), l as (
     insert into inventory_reservations as h (tenant_id, reference, item_id, held)
     select $1, $4, r.item_id, r.quantity from request r
     on conflict (tenant_id, reference, item_id) do update
       set held = h.held + excluded.held, updated_at = now()
     returning h.item_id, h.held, h.committed, h.released, h.created_at, h.updated_at
   )
   select ${LINE_RESULT},
     (select count(*) from inventory_reservations o
      where o.tenant_id = $1 and o.reference = $4 and o.item_id <> all($2::uuid[])) as other_products
   from c join l on l.item_id = c.id`,
};

export const APPLY_COMMIT: RawStatement = {
  name: 'bench_raw_apply_commit',
  text: `with request as (
     select * from unnest($2::uuid[], $3::bigint[]) as u(item_id, quantity)
   ), c as (
     update inventory_items i
       set reserved = i.reserved - r.quantity, on_hand = i.on_hand - r.quantity, updated_at = now()
     from request r where i.tenant_id = $1 and i.id = r.item_id
     returning ${ITEM_COLUMNS}
   ), l as (
     update inventory_reservations h
       set held = h.held - r.quantity, committed = h.committed + r.quantity, updated_at = now()
     from request r where h.tenant_id = $1 and h.reference = $4 and h.item_id = r.item_id
     returning h.item_id, h.held, h.committed, h.released, h.created_at, h.updated_at
   ), m as (
     insert into inventory_movements (tenant_id, item_id, type, quantity, on_hand_after, reference, notes, created_by)
     select $1, c.id, 'OUTBOUND', -r.quantity, c.on_hand, $4, $5, $6 from c join request r on r.item_id = c.id
     returning id, item_id, type, quantity, on_hand_after, reference, notes, created_by, created_at
   )
   select ${LINE_RESULT},
     m.id as movement_id, m.type, m.quantity, m.on_hand_after, m.reference, m.notes, m.created_by,
     m.created_at as movement_created_at
   from c join l on l.item_id = c.id join m on m.item_id = c.id`,
};
