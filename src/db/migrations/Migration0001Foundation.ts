import { Migration } from '@mikro-orm/migrations';
import { CURRENT_TENANT } from './sql.js';

/**
 * What both contexts stand on: the service role, the ledger guard and the
 * idempotency store.
 */
export class Migration0001Foundation extends Migration {
  override name = '0001_foundation';

  override up(): void {
    // Roles are cluster-wide, so another database on the same server may have made it.
    this.addSql(`do $$ begin
      if not exists (select from pg_roles where rolname = 'stockroom_app') then
        create role stockroom_app nologin;
      end if;
    end $$`);
    // Lets a non-superuser owner switch the service's connections to the role.
    this.addSql(`grant stockroom_app to current_user`);
    this.addSql(`grant usage on schema public to stockroom_app`);

    this.addSql(`create function stockroom_refuse_ledger_change() returns trigger language plpgsql as $$
      begin
        raise exception 'the % ledger is append-only; % is not allowed', tg_table_name, tg_op
          using errcode = 'insufficient_privilege';
      end $$`);

    this.addSql(`create table idempotency_keys (
      tenant_id text not null,
      method text not null,
      idempotency_key text not null,
      request_hash bytea not null,
      response text,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      primary key (tenant_id, method, idempotency_key),
      constraint idempotency_key_length check (length(idempotency_key) between 1 and 128),
      constraint idempotency_expiry_after_creation check (expires_at > created_at)
    )`);
    this.addSql(`create index idempotency_keys_expiry on idempotency_keys (expires_at)`);
    this.addSql(`alter table idempotency_keys enable row level security`);
    this.addSql(`alter table idempotency_keys force row level security`);
    // Per command on purpose: a tenant reads and writes only its own keys, and
    // DELETE sees only expired keys, so the retention sweep (which runs with
    // no tenant) can purge every tenant's expired keys without reading any.
    this.addSql(`create policy idempotency_keys_read on idempotency_keys for select using (tenant_id = ${CURRENT_TENANT})`);
    this.addSql(`create policy idempotency_keys_insert on idempotency_keys for insert with check (tenant_id = ${CURRENT_TENANT})`);
    this.addSql(`create policy idempotency_keys_update on idempotency_keys for update using (tenant_id = ${CURRENT_TENANT}) with check (tenant_id = ${CURRENT_TENANT})`);
    this.addSql(`create policy idempotency_keys_purge on idempotency_keys for delete using (expires_at < now())`);
    this.addSql(`grant select, insert, update, delete on idempotency_keys to stockroom_app`);
  }
}
