/**
 * The tenants this process has served, for the health gauges: row-level
 * security lets a transaction see one tenant only, and no role the service
 * holds may list them all, so the refresh checks the tenants that called.
 * Bounded: past `max`, new tenants are not added (the README says so).
 */
export class TenantsSeen {
  private readonly tenants = new Set<string>();

  constructor(private readonly max: number) {}

  note(tenant_id: string): void {
    if (this.tenants.size < this.max && tenant_id !== '') this.tenants.add(tenant_id);
  }

  list(): string[] {
    return [...this.tenants];
  }
}
