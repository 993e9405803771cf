/**
 * SQL shared by migrations: the tenant guard every table gets. Written once
 * here so that no table can end up with a weaker policy than the others.
 */

/**
 * The deployment's runtime role, as a SQL expression. The migration runner
 * creates the role before any migration runs and passes its name in the
 * session (stockroom.runtime_role), so a migration grants to it by name
 * without knowing it: see grantToRuntime.
 */
export const RUNTIME_ROLE = `current_setting('stockroom.runtime_role')`;

/**
 * `grant <privileges> on <object> to <the runtime role>`, e.g.
 * grantToRuntime('usage', 'sequence foo_id_seq'). Every migration grants this
 * way; never to the cluster-wide legacy role `stockroom_app` (0001-0004 did
 * as shipped; Migration0001Foundation says why they no longer do).
 */
export function grantToRuntime(privileges: string, object: string): string {
  return `do $$ begin execute format('grant ${privileges} on ${object} to %I', ${RUNTIME_ROLE}); end $$`;
}

/**
 * `revoke <privileges> on <object>` from the runtime role and from the
 * legacy `stockroom_app`: in a database migrated by the old 0001-0003, a
 * migration that runs before 0005b moved the legacy grants must take them
 * from both, or 0005b would move them back.
 *
 * No such role means it holds nothing to revoke, so `undefined_object` is
 * caught rather than the role's existence checked first: roles are
 * cluster-wide, and another database's 0005b may drop `stockroom_app`
 * between a check and the revoke. Only the role can be undefined here, since
 * the runtime role's revoke on the same object has just succeeded. A
 * database that holds legacy grants is safe either way: PostgreSQL refuses to
 * drop a role while any database holds a grant to it.
 */
export function revokeFromRuntime(privileges: string, object: string): string {
  return `do $$ begin
    execute format('revoke ${privileges} on ${object} from %I', ${RUNTIME_ROLE});
    begin
      execute 'revoke ${privileges} on ${object} from stockroom_app';
    exception when undefined_object then
      null;
    end;
  end $$`;
}

/** The tenant of the current transaction; NULL when none is set, which matches no row. */
export const CURRENT_TENANT = `nullif(current_setting('stockroom.tenant_id', true), '')`;

/**
 * Enables and FORCEs row-level security on a tenant-owned table and grants
 * the runtime role exactly the privileges listed (migrations 0002 and 0003
 * ran this when it named `stockroom_app`; migration 0005b moved those grants). FORCE makes the policy bind
 * the table owner too, so only a superuser or BYPASSRLS role sees across tenants.
 */
export function tenantTable(table: string, privileges: readonly ('SELECT' | 'INSERT' | 'UPDATE' | 'DELETE')[]): string[] {
  return [
    `alter table ${table} enable row level security`,
    `alter table ${table} force row level security`,
    `create policy ${table}_tenant_isolation on ${table} using (tenant_id = ${CURRENT_TENANT}) with check (tenant_id = ${CURRENT_TENANT})`,
    grantToRuntime(privileges.join(', '), table),
  ];
}

/**
 * Makes a ledger table append-only for everyone, owner included: the service
 * role has no UPDATE/DELETE privilege, and a trigger refuses them (and
 * TRUNCATE) for any role that does.
 */
export function appendOnly(table: string): string[] {
  return [
    `create trigger ${table}_append_only before update or delete on ${table} for each row execute function stockroom_refuse_ledger_change()`,
    `create trigger ${table}_no_truncate before truncate on ${table} for each statement execute function stockroom_refuse_ledger_change()`,
  ];
}

/**
 * Moves every privilege the cluster-wide legacy role `stockroom_app` holds in
 * this database (tables, sequences, columns, functions, schemas, the
 * database, policies naming it) to the runtime role, and revokes it from the
 * legacy role, so membership in `stockroom_app` grants nothing here. Safe to
 * run again: with nothing granted to the legacy role, or no such role, it
 * does nothing.
 */
export const MOVE_LEGACY_GRANTS = `do $$
declare
  legacy constant text := 'stockroom_app';
  runtime constant text := ${RUNTIME_ROLE};
  legacy_oid oid := (select oid from pg_roles where rolname = legacy);
  item record;
begin
  if legacy_oid is null or legacy = runtime then return; end if;
  for item in
    select format('grant %s on %s %s to %I', a.privilege_type, k.kind, c.oid::regclass, runtime) as grant_sql,
           format('revoke all on %s %s from %I', k.kind, c.oid::regclass, legacy) as revoke_sql
    from pg_class c cross join lateral aclexplode(c.relacl) a
    cross join lateral (select case when c.relkind = 'S' then 'sequence' else 'table' end as kind) k
    where c.relnamespace = 'public'::regnamespace and a.grantee = legacy_oid
    union all
    select format('grant %s (%I) on table %s to %I', a.privilege_type, att.attname, c.oid::regclass, runtime),
           format('revoke all (%I) on table %s from %I', att.attname, c.oid::regclass, legacy)
    from pg_attribute att join pg_class c on c.oid = att.attrelid cross join lateral aclexplode(att.attacl) a
    where c.relnamespace = 'public'::regnamespace and a.grantee = legacy_oid
    union all
    select format('grant %s on function %s to %I', a.privilege_type, p.oid::regprocedure, runtime),
           format('revoke all on function %s from %I', p.oid::regprocedure, legacy)
    from pg_proc p cross join lateral aclexplode(p.proacl) a
    where p.pronamespace = 'public'::regnamespace and a.grantee = legacy_oid
    union all
    select format('grant %s on schema %I to %I', a.privilege_type, n.nspname, runtime),
           format('revoke all on schema %I from %I', n.nspname, legacy)
    from pg_namespace n cross join lateral aclexplode(n.nspacl) a
    where a.grantee = legacy_oid
    union all
    select format('grant %s on database %I to %I', a.privilege_type, d.datname, runtime),
           format('revoke all on database %I from %I', d.datname, legacy)
    from pg_database d cross join lateral aclexplode(d.datacl) a
    where d.datname = current_database() and a.grantee = legacy_oid
  loop
    execute item.grant_sql;
    execute item.revoke_sql;
  end loop;
  for item in
    select format('alter policy %I on %s to %s', pol.polname, pol.polrelid::regclass,
             (select string_agg(case when r = legacy_oid then quote_ident(runtime) when r = 0 then 'public' else quote_ident(pg_get_userbyid(r)) end, ', ')
              from unnest(pol.polroles) r)) as sql
    from pg_policy pol where legacy_oid = any(pol.polroles)
  loop
    execute item.sql;
  end loop;
end $$`;
