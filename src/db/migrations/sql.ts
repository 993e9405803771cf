/**
 * SQL shared by migrations: the tenant guard every table gets. Written once
 * here so that no table can end up with a weaker policy than the others.
 */

/** The tenant of the current transaction; NULL when none is set, which matches no row. */
export const CURRENT_TENANT = `nullif(current_setting('stockroom.tenant_id', true), '')`;

/**
 * Enables and FORCEs row-level security on a tenant-owned table and grants
 * the service role exactly the privileges listed. FORCE makes the policy bind
 * the table owner too, so only a superuser or BYPASSRLS role sees across tenants.
 */
export function tenantTable(table: string, privileges: readonly ('SELECT' | 'INSERT' | 'UPDATE' | 'DELETE')[]): string[] {
  return [
    `alter table ${table} enable row level security`,
    `alter table ${table} force row level security`,
    `create policy ${table}_tenant_isolation on ${table} using (tenant_id = ${CURRENT_TENANT}) with check (tenant_id = ${CURRENT_TENANT})`,
    `grant ${privileges.join(', ')} on ${table} to stockroom_app`,
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
