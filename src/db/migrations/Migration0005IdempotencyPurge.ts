import { Migration } from '@mikro-orm/migrations';
import { CURRENT_TENANT } from './sql.js';

/** The maintenance task a transaction declares itself to be (set_config, transaction-local). */
export const IDEMPOTENCY_PURGE_TASK = 'idempotency_purge';
const MAINTENANCE = `current_setting('stockroom.maintenance', true)`;

/**
 * Tenant-safe idempotency purge (issue 10, item 5). The foundation's DELETE
 * policy had no tenant condition, so any tenant's transaction could delete
 * another tenant's expired keys. Now a transaction deletes expired keys of
 * its own tenant only; the retention sweep, which has no tenant, must also
 * say so (stockroom.maintenance = 'idempotency_purge'), and only that sweep
 * may read expired keys across tenants, which it needs to pick one bounded
 * batch at a time.
 */
export class Migration0005IdempotencyPurge extends Migration {
  override name = '0005_idempotency_purge';

  override up(): void {
    const sweep = `(${CURRENT_TENANT} is null and ${MAINTENANCE} = '${IDEMPOTENCY_PURGE_TASK}')`;
    this.addSql(`drop policy idempotency_keys_purge on idempotency_keys`);
    this.addSql(`create policy idempotency_keys_purge on idempotency_keys for delete
      using (expires_at < now() and (tenant_id = ${CURRENT_TENANT} or ${sweep}))`);
    this.addSql(`create policy idempotency_keys_sweep_read on idempotency_keys for select
      using (expires_at < now() and ${sweep})`);
  }
}
