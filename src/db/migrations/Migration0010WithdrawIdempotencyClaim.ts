import { Migration } from '@mikro-orm/migrations';
import { CURRENT_TENANT } from './sql.js';

/**
 * A transaction may withdraw its own unanswered idempotency claims (issue
 * 15). A coalesced Reserve batch claims the keys of all its requests first
 * (the lock order: keys, then the item) and decides stock afterwards; a
 * request it refuses must leave no record, exactly as a refused call alone
 * leaves none when its transaction rolls back. The batch commits for the
 * others, so it deletes the refused requests' claims instead.
 *
 * Only rows without a response: a committed key always has one (the claim
 * and the answer are written in one transaction), so the rows this policy
 * adds are claims still open in the deleting transaction itself; other
 * transactions' open claims are invisible to it. Expired keys stay
 * deletable as before (0005).
 */
export class Migration0010WithdrawIdempotencyClaim extends Migration {
  override name = '0010_withdraw_idempotency_claim';

  override up(): void {
    this.addSql(`create policy idempotency_keys_withdraw_claim on idempotency_keys for delete
      using (response is null and tenant_id = ${CURRENT_TENANT})`);
  }
}
