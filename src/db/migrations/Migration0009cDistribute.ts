import { Migration } from '@mikro-orm/migrations';
import { POSITIONED_LEDGERS } from './Migration0008LedgerPositions.js';
import { LEDGERS } from './Migration0008bPublicIds.js';

/**
 * Past one database (issue 16): when the Citus extension is present in this
 * database, every table with a tenant_id column is distributed by tenant_id,
 * all co-located (one tenant's rows of every table sit in one shard group,
 * on one node), and every table without one becomes a reference table
 * (a copy on every node). Without the extension it does nothing, so plain
 * PostgreSQL is unchanged.
 *
 * The tables are found, not listed: a table of a later migration (it must
 * lead its keys with tenant_id, like every table here) is distributed by
 * running distributeTables() again in that migration. Tables are taken in
 * foreign-key order (a referenced table before its referencing ones), as
 * Citus requires. The migrations' own bookkeeping table stays local.
 *
 * Functions named stockroom_tenant_* take the tenant as their first
 * argument and touch only that tenant's rows: they are distributed by it,
 * co-located, with force_delegation, so Citus runs a call whole on the
 * tenant's node, inside a transaction block too (migration 0009a).
 *
 * Triggers on distributed tables need citus.enable_unsafe_triggers at
 * creation time (the ledger, balance, limit and event triggers): they run on
 * the shard's node, and touch only co-located shards of the same tenant, so
 * Citus runs their statements locally there (README, Running on Citus).
 */
export class Migration0009cDistribute extends Migration {
  override name = '0009c_distribute';

  override up(): void {
    this.addSql(derivedColumnsGuardedByTrigger());
    this.addSql(distributeTables());
  }
}

/**
 * Columns the database derives (balances, a hold's outcomes), which the
 * runtime role may not set on insert. PostgreSQL enforces that with
 * column-level INSERT privileges (migration 0004b), but Citus sends every
 * insert to the shard with every column named (defaults filled in), so the
 * runtime role's inserts would all be refused there. On Citus only, the
 * runtime role may insert every column and a trigger refuses a new row
 * whose derived columns are not at their start (0), with the same SQLSTATE
 * as the privilege (42501), so callers see one refusal on both engines.
 */
const DERIVED_ON_INSERT: Readonly<Record<string, readonly string[]>> = {
  inventory_items: ['on_hand', 'reserved'],
  inventory_reservations: ['committed', 'released', 'expired'],
  part_balances: ['qty_on_hand', 'qty_reserved'],
  part_batches: ['qty_on_hand'],
};

/**
 * The ledgers' position (xid, migration 0008) and public id (0008b) are the
 * database's too: on Citus the runtime role may name them (as above), and a
 * trigger sets them whatever the insert said.
 */

function derivedColumnsGuardedByTrigger(): string {
  const tables = Object.entries(DERIVED_ON_INSERT);
  const ledger = (table: string) => `create trigger ${table}_identity_by_database before insert on ${table}
      for each row execute function stockroom_ledger_identity(${(POSITIONED_LEDGERS as readonly string[]).includes(table) ? `'xid'` : ''});
    execute format('grant insert on ${table} to %I', current_setting('stockroom.runtime_role'));`;
  return `do $$ begin
    if not exists (select from pg_extension where extname = 'citus') then
      return;
    end if;
    create function stockroom_derived_start_at_zero() returns trigger
      language plpgsql set search_path = public, pg_temp as $body$
      declare
        row_values jsonb := to_jsonb(new);
        derived text;
      begin
        foreach derived in array tg_argv loop
          if (row_values ->> derived)::numeric <> 0 then
            raise exception 'permission denied: %.% is derived by the database and starts at 0', tg_table_name, derived
              using errcode = 'insufficient_privilege';
          end if;
        end loop;
        return new;
      end $body$;
    create function stockroom_ledger_identity() returns trigger
      language plpgsql set search_path = public, pg_temp as $body$
      begin
        new.public_id := stockroom_uuidv7();
        if tg_nargs > 0 then
          new.xid := pg_current_xact_id();
        end if;
        return new;
      end $body$;
    ${LEDGERS.map(ledger).join('\n    ')}
    ${tables
      .map(([table, columns]) => `create trigger ${table}_derived_start_at_zero before insert on ${table}
      for each row execute function stockroom_derived_start_at_zero(${columns.map((column) => `'${column}'`).join(', ')});
    execute format('grant insert on ${table} to %I', current_setting('stockroom.runtime_role'));`)
      .join('\n    ')}
  end $$`;
}

/** The SQL that distributes every table not distributed yet (nothing without Citus). */
export function distributeTables(): string {
  return `do $$
  declare
    next_table regclass;
    tenant_function regprocedure;
    colocate_with text;
  begin
    if not exists (select from pg_extension where extname = 'citus') then
      return;
    end if;
    perform set_config('citus.enable_unsafe_triggers', 'on', true);
    -- Reference tables and co-located tables created in one transaction with
    -- foreign keys between them need sequential shard access.
    perform set_config('citus.multi_shard_modify_mode', 'sequential', true);
    -- Co-located with the tables distributed before, if any (none: the first one starts the group).
    select logicalrelid::regclass::text into colocate_with from pg_dist_partition where partmethod = 'h' order by logicalrelid limit 1;
    loop
      -- A public table not yet in Citus whose referenced tables all are.
      select c.oid::regclass into next_table
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
         and c.relname <> 'stockroom_migrations'
         and not exists (select from pg_dist_partition d where d.logicalrelid = c.oid)
         and not exists (select from pg_constraint f
                          where f.conrelid = c.oid and f.contype = 'f' and f.confrelid <> c.oid
                            and not exists (select from pg_dist_partition d where d.logicalrelid = f.confrelid))
       order by c.relname
       limit 1;
      exit when next_table is null;
      if exists (select from pg_attribute where attrelid = next_table and attname = 'tenant_id' and not attisdropped) then
        perform create_distributed_table(next_table, 'tenant_id', colocate_with => coalesce(colocate_with, 'default'));
        colocate_with := coalesce(colocate_with, next_table::text);
      else
        perform create_reference_table(next_table);
      end if;
    end loop;
    -- Functions of one tenant (first argument): delegated whole to that tenant's node, inside transactions too.
    for tenant_function in
      select p.oid::regprocedure from pg_proc p
       where p.pronamespace = 'public'::regnamespace and p.proname like 'stockroom\\_tenant\\_%'
         and not exists (select from pg_dist_object o where o.classid = 'pg_proc'::regclass and o.objid = p.oid and o.distribution_argument_index is not null)
    loop
      perform create_distributed_function(tenant_function, '$1', colocate_with => colocate_with, force_delegation => true);
    end loop;
  end $$`;
}
