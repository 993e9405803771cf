import { Migration } from '@mikro-orm/migrations';
import { POSITIONED_LEDGERS } from './Migration0008LedgerPositions.js';
import { LEDGERS } from './Migration0008bPublicIds.js';

/**
 * On Citus, a ledger row's position (xid) and public id are refused when an
 * insert names them, as PostgreSQL's column privileges refuse them
 * (migrations 0008, 0008b), instead of being overwritten (0009c).
 *
 * 0009c had to let the runtime role name every column of the ledgers (Citus
 * sends every insert to the shard with every column named) and set both
 * columns by trigger. But Citus fills in a column's default on the
 * coordinator, so the trigger could not tell a forged value from the
 * default, and overwrote both. Here, with Citus only, the two columns lose
 * their defaults: an insert that does not name them arrives with nulls,
 * which the trigger fills (the node's transaction id, a UUIDv7) before the
 * NOT NULL checks; one that names them is refused with the privilege's
 * SQLSTATE (42501), as on plain PostgreSQL. The trigger fires in replica
 * mode too (ENABLE ALWAYS), where a superuser's bulk load or repair runs
 * with the other triggers off: it fills what such a load leaves out, as the
 * defaults did, and keeps what it brings. Nothing changes without Citus.
 */
export class Migration0014bLedgerIdentityRefused extends Migration {
  override name = '0014b_ledger_identity_refused';

  override up(): void {
    const positioned = (table: string) => (POSITIONED_LEDGERS as readonly string[]).includes(table);
    this.addSql(`do $$ begin
      if not exists (select from pg_extension where extname = 'citus') then
        return;
      end if;
      create or replace function stockroom_ledger_identity() returns trigger
        language plpgsql set search_path = public, pg_temp as $body$
        declare
          -- A superuser's bulk load or repair (triggers otherwise off) may bring its own; no one else may.
          own_values_allowed boolean := current_setting('session_replication_role') = 'replica';
        begin
          if new.public_id is null then
            new.public_id := stockroom_uuidv7();
          elsif not own_values_allowed then
            raise exception 'permission denied: %.public_id is set by the database', tg_table_name using errcode = 'insufficient_privilege';
          end if;
          if tg_nargs > 0 then
            if new.xid is null then
              new.xid := pg_current_xact_id();
            elsif not own_values_allowed then
              raise exception 'permission denied: %.xid is set by the database', tg_table_name using errcode = 'insufficient_privilege';
            end if;
          end if;
          return new;
        end $body$;
      perform set_config('citus.enable_unsafe_triggers', 'on', true);
      ${LEDGERS.map((table) => `alter table ${table} alter column public_id drop default${positioned(table) ? ', alter column xid drop default' : ''};
      alter table ${table} enable always trigger ${table}_identity_by_database;`).join('\n      ')}
    end $$`);
  }
}
