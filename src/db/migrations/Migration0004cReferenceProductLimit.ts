import { Migration } from '@mikro-orm/migrations';
import { LIMITS } from '../../inventory/limits.js';

/**
 * The products-per-reference limit, exact under concurrency (issue 10,
 * item 7). Reserve counted the reference's other lines in its own
 * statement's snapshot, so two Reserves adding different products to one
 * reference at the same time each saw the other's lines missing, and both
 * passed (1,001 products).
 *
 * A new reservation line now takes the reference's lock (a transaction-level
 * advisory lock on the tenant and reference) and then counts the lines of
 * the reference with a fresh snapshot: whoever added lines before it has
 * committed by then, so the count is exact. Only new lines pay (one lock,
 * one index count of at most the limit); a line that grows does not.
 * The lock comes last in the lock order (see src/db/lock-order.ts): after
 * the items, which every Reserve locks first.
 */
export class Migration0004cReferenceProductLimit extends Migration {
  override name = '0004c_reference_product_limit';

  override up(): void {
    this.addSql(`create function stockroom_inventory_reference_limit() returns trigger
      language plpgsql security definer set search_path = public, pg_temp as $$
      declare
        products bigint;
      begin
        perform pg_advisory_xact_lock(hashtextextended('inventory_reference:' || new.tenant_id || ':' || new.reference, 0));
        -- A new statement, so a new snapshot: it sees every line committed before the lock was ours.
        select count(*) into products from inventory_reservations r where r.tenant_id = new.tenant_id and r.reference = new.reference;
        if products > ${LIMITS.products_per_reference} then
          raise exception 'reference % would hold % products; at most ${LIMITS.products_per_reference} are allowed', new.reference, products
            using errcode = 'check_violation', constraint = 'inventory_reservations_products_per_reference',
                  table = 'inventory_reservations', detail = products::text;
        end if;
        return null;
      end $$`);
    this.addSql(`create trigger inventory_reservations_products_per_reference after insert on inventory_reservations
      for each row execute function stockroom_inventory_reference_limit()`);
  }
}
