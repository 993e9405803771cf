import { Migration } from '@mikro-orm/migrations';
import { grantToRuntime } from './sql.js';

/**
 * Strict FIFO on same-day receipts (issue 10, item 2). Layers were ordered
 * by (received_at, id) and id is a random UUID, so two receipts with the
 * same received date were consumed in random order. Every layer now carries
 * a receipt sequence number, taken when the receipt is booked, and FIFO
 * order is (received_at, receipt_seq) everywhere: allocation, ListBatches,
 * transfers (a transferred layer copies its source's number, so it keeps
 * its place in line) and the health check.
 *
 * The number only orders; it never leaves the database (page tokens name a
 * layer by id and look its number up), so its global sequence leaks no
 * tenant's volume to another.
 */
export class Migration0004FifoReceiptOrder extends Migration {
  override name = '0004_fifo_receipt_order';

  override up(): void {
    this.addSql(`create sequence part_batches_receipt_seq as bigint`);
    this.addSql(`alter table part_batches add column receipt_seq bigint`);
    // Existing layers: creation order is the best record of receipt order
    // there is; a transferred layer then takes its original receipt's number.
    this.addSql(`update part_batches b set receipt_seq = o.seq
      from (select tenant_id, id, row_number() over (order by created_at, id) as seq from part_batches) o
      where b.tenant_id = o.tenant_id and b.id = o.id`);
    this.addSql(`with recursive origin as (
        select tenant_id, id, receipt_seq as seq from part_batches where source_batch_id is null
        union all
        select c.tenant_id, c.id, o.seq from part_batches c join origin o on c.tenant_id = o.tenant_id and c.source_batch_id = o.id
      )
      update part_batches b set receipt_seq = o.seq from origin o
      where b.tenant_id = o.tenant_id and b.id = o.id and b.source_batch_id is not null`);
    this.addSql(`select setval('part_batches_receipt_seq', greatest((select max(receipt_seq) from part_batches), 1))`);
    this.addSql(`alter table part_batches alter column receipt_seq set default nextval('part_batches_receipt_seq')`);
    this.addSql(`alter table part_batches alter column receipt_seq set not null`);
    this.addSql(`alter sequence part_batches_receipt_seq owned by part_batches.receipt_seq`);
    this.addSql(grantToRuntime('usage', 'sequence part_batches_receipt_seq'));
    this.addSql(`drop index part_batches_fifo`);
    this.addSql(`create index part_batches_fifo on part_batches (tenant_id, part_id, location_id, received_at, receipt_seq) where qty_on_hand > 0`);
  }
}
