import { Migration } from '@mikro-orm/migrations';
import { distributeTables } from './Migration0009cDistribute.js';

/**
 * Reserve and CommitOutbound of one product decided in one call, refusals
 * included (issue 15): each locks the product's item, decides, writes or
 * not, and answers with everything the service needs to reply: the item
 * and line after a write, or the item and line it was refused against. So
 * the call is the transaction's only statement, and the runner sends it
 * with BEGIN before it and COMMIT after it in one round trip (Tx.queryLast,
 * src/db/transaction.ts). A refusal writes nothing, so committing it is
 * harmless.
 *
 * - No row: the tenant has no such product.
 * - `admitted` false: the item as locked, and for a commit the line as it
 *   stands (null columns when the reference holds no line of it).
 * - `admitted` true: the item and line after the write; for a commit, the
 *   OUTBOUND movement too (its trigger moves the units from held to
 *   committed and off on_hand and reserved).
 *
 * As 0009a and 0013a: SECURITY INVOKER, quantities reported from rows read
 * before the write (a statement after it would see its triggers), the time
 * taken once into a variable, and distributed by the tenant on Citus.
 */
export class Migration0016aDecidedInOneCall extends Migration {
  override name = '0016a_decided_in_one_call';

  override up(): void {
    this.addSql(RESERVE_PRODUCT);
    this.addSql(COMMIT_PRODUCT);
    this.addSql(distributeTables());
  }
}

const ITEM_OUT = `id uuid, product_id text, sku text, name text, on_hand bigint, reserved bigint, reorder_point bigint,
                  created_at timestamptz, updated_at timestamptz`;
const LINE_OUT = `item_id uuid, held bigint, committed bigint, released bigint, expired bigint, expires_at timestamptz,
                  line_created_at timestamptz, line_updated_at timestamptz`;

const RESERVE_PRODUCT = `create function stockroom_tenant_reserve_product(
    p_tenant_id text, p_product_id text, p_quantity bigint, p_reference text, p_lifetime_ms bigint)
  returns table (admitted boolean, ${ITEM_OUT}, ${LINE_OUT})
  language plpgsql set search_path = public, pg_temp as $$
  #variable_conflict use_column
  declare
    item inventory_items;
    at timestamptz := now();
  begin
    select * into item from inventory_items i where i.tenant_id = p_tenant_id and i.product_id = p_product_id for update;
    if not found then
      return;
    end if;
    if item.on_hand - item.reserved < p_quantity then
      return query select false, item.id, item.product_id, item.sku, item.name, item.on_hand, item.reserved, item.reorder_point,
        item.created_at, item.updated_at, null::uuid, null::bigint, null::bigint, null::bigint, null::bigint, null::timestamptz,
        null::timestamptz, null::timestamptz;
      return;
    end if;
    return query
      insert into inventory_reservations as h (tenant_id, reference, item_id, held, expires_at)
      values (p_tenant_id, p_reference, item.id, p_quantity, at + p_lifetime_ms * interval '1 millisecond')
      on conflict on constraint inventory_reservations_pkey do update
        set held = h.held + excluded.held, expires_at = excluded.expires_at, updated_at = excluded.updated_at
      returning true, item.id, item.product_id, item.sku, item.name, item.on_hand, item.reserved + p_quantity, item.reorder_point,
                item.created_at, at, h.item_id, h.held, h.committed, h.released, h.expired, h.expires_at, h.created_at, h.updated_at;
  end $$`;

const COMMIT_PRODUCT = `create function stockroom_tenant_commit_product(
    p_tenant_id text, p_product_id text, p_quantity bigint, p_reference text, p_notes text, p_created_by text)
  returns table (admitted boolean, ${ITEM_OUT}, ${LINE_OUT}, lapsed boolean,
                 movement_id bigint, public_id uuid, xid text, type text, quantity bigint, on_hand_after bigint,
                 reference text, notes text, created_by text, movement_created_at timestamptz)
  language plpgsql set search_path = public, pg_temp as $$
  #variable_conflict use_column
  declare
    item inventory_items;
    line inventory_reservations;
    at timestamptz := now();
    m inventory_movements;
  begin
    select * into item from inventory_items i where i.tenant_id = p_tenant_id and i.product_id = p_product_id for update;
    if not found then
      return;
    end if;
    select * into line from inventory_reservations h
     where h.tenant_id = p_tenant_id and h.reference = p_reference and h.item_id = item.id;
    if line.item_id is null or line.held < p_quantity or line.expires_at <= at then
      return query select false, item.id, item.product_id, item.sku, item.name, item.on_hand, item.reserved, item.reorder_point,
        item.created_at, item.updated_at, line.item_id, line.held, line.committed, line.released, line.expired, line.expires_at,
        line.created_at, line.updated_at, coalesce(line.expires_at <= at, false),
        null::bigint, null::uuid, null::text, null::text, null::bigint, null::bigint, null::text, null::text, null::text, null::timestamptz;
      return;
    end if;
    insert into inventory_movements (tenant_id, item_id, type, quantity, reference, notes, created_by)
    values (p_tenant_id, item.id, 'OUTBOUND', -p_quantity, p_reference, p_notes, p_created_by)
    returning * into m;
    return query select true, item.id, item.product_id, item.sku, item.name, m.on_hand_after, item.reserved - p_quantity,
      item.reorder_point, item.created_at, at, line.item_id, line.held - p_quantity, line.committed + p_quantity, line.released,
      line.expired, line.expires_at, line.created_at, at, false,
      m.id, m.public_id, m.xid::text, m.type, m.quantity, m.on_hand_after, m.reference, m.notes, m.created_by, m.created_at;
  end $$`;
