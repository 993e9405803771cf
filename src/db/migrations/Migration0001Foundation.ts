import { Migration } from '@mikro-orm/migrations';
import { CURRENT_TENANT, grantToRuntime } from './sql.js';

/**
 * What both contexts stand on: the ledger guard, the idempotency store and
 * the runtime role's first grants.
 *
 * As shipped, this created the cluster-wide `stockroom_app` when missing,
 * made the owner a member and granted to it; migrations 0002-0004 granted
 * their sequences to it too, and 0005b moved all of it to the runtime role
 * and dropped `stockroom_app` once unused. A fresh database now grants to
 * its runtime role directly, so it never depends on `stockroom_app`
 * surviving: while another database's 0005b dropped that role (its lock held
 * until that migration commits), the grants here failed with `role
 * "stockroom_app" does not exist`. The end state is the one 0005b produced
 * (same grants, by the same grantor, on the runtime role; none on
 * `stockroom_app`), and a database that ran the old 0001 never runs it
 * again (0005b and the runner move what it granted).
 */
export class Migration0001Foundation extends Migration {
  override name = '0001_foundation';

  override up(): void {
    this.addSql(grantToRuntime('usage', 'schema public'));

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
    this.addSql(grantToRuntime('select, insert, update, delete', 'idempotency_keys'));
  }
}
