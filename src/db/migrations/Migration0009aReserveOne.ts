import { Migration } from '@mikro-orm/migrations';

/**
 * Single-product Reserve as one function of the tenant (issue 16): lock the
 * item if it has the units, write the hold (its triggers add to reserved and
 * count the reference's products), report item and line as they are after.
 *
 * It was one statement with data-modifying CTEs. Citus never routes an
 * INSERT inside a CTE to one shard: it split the statement into steps
 * through the coordinator (4.5× the latency of plain tables). A function
 * whose first argument is the tenant is what Citus can delegate whole to the
 * node holding that tenant (migration 0009c distributes every
 * stockroom_tenant_* function co-located with the tables, with
 * force_delegation, so it is delegated inside a transaction too); there its
 * two statements run on local shards. On plain PostgreSQL it is the same
 * two statements without the network between them: one round trip, as
 * before (plpgsql keeps their plans per connection).
 *
 * SECURITY INVOKER (the default): row-level security and the runtime role's
 * privileges apply inside as outside. No non-immutable function in the
 * INSERT's ON CONFLICT or RETURNING (Citus refuses them on the shard): the
 * time is taken once into a variable.
 */
export class Migration0009aReserveOne extends Migration {
  override name = '0009a_reserve_one';

  override up(): void {
    this.addSql(`create function stockroom_tenant_reserve_one(
        p_tenant_id text, p_product_id text, p_quantity bigint, p_reference text, p_lifetime_ms bigint)
      returns table (id uuid, product_id text, sku text, name text, on_hand bigint, reserved bigint, reorder_point bigint,
                     created_at timestamptz, updated_at timestamptz, item_id uuid, held bigint, committed bigint, released bigint,
                     expired bigint, expires_at timestamptz, line_created_at timestamptz, line_updated_at timestamptz)
      language plpgsql set search_path = public, pg_temp as $$
      #variable_conflict use_column
      declare
        item inventory_items;
        at timestamptz := now();
        line_expires_at timestamptz := at + p_lifetime_ms * interval '1 millisecond';
      begin
        -- Re-checked on the last committed row after any lock wait.
        select * into item from inventory_items i
         where i.tenant_id = p_tenant_id and i.product_id = p_product_id and i.on_hand - i.reserved >= p_quantity
           for update;
        if not found then
          return;
        end if;
        return query
          insert into inventory_reservations as h (tenant_id, reference, item_id, held, expires_at)
          values (p_tenant_id, p_reference, item.id, p_quantity, line_expires_at)
          on conflict on constraint inventory_reservations_pkey do update
            set held = h.held + excluded.held, expires_at = excluded.expires_at, updated_at = excluded.updated_at
          returning item.id, item.product_id, item.sku, item.name, item.on_hand, item.reserved + p_quantity, item.reorder_point,
                    item.created_at, at, h.item_id, h.held, h.committed, h.released, h.expired, h.expires_at, h.created_at, h.updated_at;
      end $$`);
  }
}
