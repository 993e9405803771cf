/**
 * What the people who run the parts store rely on, checked against faults
 * injected directly into PostgreSQL (bypassing the service): the health
 * check and Reconcile find them, for the caller's tenant only, and the
 * database itself refuses ledger edits and negative quantities.
 */
import type * as grpc from '@grpc/grpc-js';
import { newTenant, rawQuery, startStockroom, type TestStockroom } from './support/harness.js';

const SERVICE = 'stockroom.parts.v1.PartsService';

let stockroom: TestStockroom;
let client: grpc.Client;

beforeAll(async () => {
  stockroom = await startStockroom();
  client = stockroom.grpcClient(SERVICE);
});

afterAll(async () => {
  await stockroom?.close();
});

/** A tenant with one part in two layers at one location (5 at 1.00 on Mar 1, 5 at 2.00 on Mar 2), 1 issued to WO-1. */
async function stocked(prefix: string) {
  const { tenant, token, call: parts } = await newTenant(stockroom, client, prefix, { sub: 'erin' });
  const { part } = await parts('CreatePart', { part: { partNumber: 'P-INT', name: 'Gasket' } });
  const { location } = await parts('CreateLocation', { location: { site: 'PLANT', name: 'Crib' } });
  const date = (day: number) => ({ seconds: String(Date.UTC(2024, 2, day) / 1000), nanos: 0 });
  const older = (await parts('ReceiveParts', { partId: part.id, locationId: location.id, qty: '5', unitCost: '1', receivedDate: date(1) })).batch;
  const younger = (await parts('ReceiveParts', { partId: part.id, locationId: location.id, qty: '5', unitCost: '2', receivedDate: date(2) })).batch;
  await parts('IssueToWorkOrder', { workOrderId: 'WO-1', partId: part.id, locationId: location.id, qty: '1' });
  return { tenant, parts, part, location, older, younger };
}

const counts = (health: any) => ({
  negative: health.negativeQuantities.count,
  orphaned: health.orphanedMovements.count,
  fifo: health.fifoViolations.count,
  balance_vs_batches: health.balanceBatchMismatches.count,
  balance_vs_ledger: health.balanceLedgerMismatches.count,
  batch_vs_ledger: health.batchLedgerMismatches.count,
});

/**
 * Faults are written as the owner with triggers off, as a repair or a bad
 * import by a superuser would: the runtime role cannot write them (see
 * test/database-truth.test.ts), and the triggers would derive the balances.
 */
const OWNER_BYPASS = { settings: { session_replication_role: 'replica' } };

const CLEAN = { negative: '0', orphaned: '0', fifo: '0', balance_vs_batches: '0', balance_vs_ledger: '0', batch_vs_ledger: '0' };

describe('CheckInventoryHealth and Reconcile', () => {
  it('report a layer edited directly in the database, for its tenant only', async () => {
    const { tenant, parts, part, location, younger } = await stocked('fault-layer');
    const bystander = await stocked('bystander');
    expect(counts(await parts('CheckInventoryHealth', {}))).toEqual(CLEAN);

    await rawQuery('update part_batches set qty_on_hand = qty_on_hand - 1 where tenant_id = $1 and id = $2', [tenant, younger.id]);

    const health = await parts('CheckInventoryHealth', {});
    expect(health.healthy).toBe(false);
    expect(counts(health)).toEqual({ ...CLEAN, balance_vs_batches: '1', batch_vs_ledger: '1' });
    expect(health.balanceBatchMismatches.examples).toEqual([
      expect.objectContaining({ partId: part.id, locationId: location.id, detail: 'balance 9.000, layers 8.000' }),
    ]);
    expect(health.batchLedgerMismatches.examples).toEqual([
      expect.objectContaining({ batchId: younger.id, detail: 'layer holds 4.000, its movements sum to 5.000' }),
    ]);

    const reconciled = await parts('Reconcile', {});
    expect(reconciled.inconsistentRows).toBe(1);
    expect(reconciled.rows).toEqual([
      expect.objectContaining({
        partId: part.id,
        partNumber: 'P-INT',
        locationId: location.id,
        site: 'PLANT',
        locationName: 'Crib',
        ledgerQty: '9.000',
        batchQty: '8.000',
        balanceQty: '9.000',
        batchMinusLedger: '-1.000',
        balanceMinusLedger: '0.000',
        balanceMinusBatch: '1.000',
        batchDifferences: [expect.objectContaining({ batchId: younger.id, batchQty: '4.000', ledgerQty: '5.000' })],
        consistent: false,
      }),
    ]);
    expect((await parts('Reconcile', { onlyDifferences: true })).rows).toHaveLength(1);

    // The other tenant sees none of it.
    expect(await bystander.parts('CheckInventoryHealth', {})).toMatchObject({ healthy: true });
    expect((await bystander.parts('Reconcile', { onlyDifferences: true })).rows).toEqual([]);
    expect((await bystander.parts('Reconcile', {})).rows.map((row: any) => row.partId)).toEqual([bystander.part.id]);
  });

  it('report an ISSUE movement written without its work-order line', async () => {
    const { tenant, parts, part, location, older } = await stocked('fault-orphan');
    const [ghost] = await rawQuery<{ id: string }>(
      `insert into part_movements (tenant_id, type, part_id, location_id, batch_id, from_location_id, qty_delta, unit_cost, work_order_id, created_by)
       values ($1, 'ISSUE', $2, $3, $4, $3, -1, 1, 'WO-GHOST', 'intruder') returning public_id::text as id`,
      [tenant, part.id, location.id, older.id],
      OWNER_BYPASS,
    );
    const health = await parts('CheckInventoryHealth', {});
    expect(counts(health)).toEqual({ ...CLEAN, orphaned: '1', balance_vs_ledger: '1', batch_vs_ledger: '1' });
    expect(health.orphanedMovements.examples).toEqual([
      expect.objectContaining({ movementId: ghost.id, workOrderId: 'WO-GHOST', detail: 'ISSUE movement without its work-order line' }),
    ]);
    const [row] = (await parts('Reconcile', { partId: part.id, locationId: location.id })).rows;
    expect(row).toMatchObject({ ledgerQty: '8.000', batchQty: '9.000', balanceQty: '9.000', batchMinusLedger: '1.000', consistent: false });
  });

  it('report a younger layer consumed while an older one had stock, judged at the time of the movement', async () => {
    const { tenant, parts, part, location, older, younger } = await stocked('fault-fifo');
    // A consistent but out-of-order consumption, as a bad import would write it: through the ledger's own
    // write (migration 0014a; its trigger moves the layer and the balance), which on Citus runs on the
    // tenant's node like the service's writes, so the movement takes its place in that node's id order.
    const [skip] = await rawQuery<{ id: string }>(
      `select movement_id as id from stockroom_tenant_parts_change_layers($1, $2, $3, array[$4::uuid], '{-1}', '{2}', 'ADJUSTMENT', null, '', 'import', 'loader')`,
      [tenant, part.id, location.id, younger.id],
    );
    let health = await parts('CheckInventoryHealth', {});
    expect(counts(health)).toEqual({ ...CLEAN, fifo: '1' });
    expect(health.fifoViolations.examples).toEqual([
      expect.objectContaining({ movementId: skip.id, batchId: younger.id, detail: `took from layer ${younger.id} while older layer ${older.id} had stock` }),
    ]);
    // Later service issues are FIFO again (the older layer first) and are not reported.
    const issued = await parts('IssueToWorkOrder', { workOrderId: 'WO-2', partId: part.id, locationId: location.id, qty: '5' });
    expect(issued.allocations.map((allocation: any) => allocation.batchId)).toEqual([older.id, younger.id]);
    health = await parts('CheckInventoryHealth', {});
    expect(counts(health)).toEqual({ ...CLEAN, fifo: '1' });
    expect(health.fifoMovementsChecked).toBe('4');
    expect((await parts('CheckInventoryHealth', { fifoMovementsMax: 2 })).fifoMovementsChecked).toBe('2');
    // A backdated receipt gives an older layer stock only from its own time on: no violation.
    await parts('ReceiveParts', { partId: part.id, locationId: location.id, qty: '1', unitCost: '1', receivedDate: { seconds: '1', nanos: 0 } });
    expect(counts(await parts('CheckInventoryHealth', {}))).toEqual({ ...CLEAN, fifo: '1' });
  });

  it('report a work order that returned more than it was issued', async () => {
    const { tenant, parts, part, location, older } = await stocked('fault-negative');
    await rawQuery(
      `with layer as (update part_batches set qty_on_hand = qty_on_hand + 1 where tenant_id = $1 and id = $4),
            balance as (update part_balances set qty_on_hand = qty_on_hand + 1 where tenant_id = $1 and part_id = $2 and location_id = $3),
            movement as (
              insert into part_movements (tenant_id, type, part_id, location_id, batch_id, to_location_id, qty_delta, unit_cost, work_order_id, created_by)
              values ($1, 'RETURN', $2, $3, $4, $3, 1, 1, 'WO-NEG', 'loader') returning id)
       insert into work_order_lines (tenant_id, work_order_id, part_id, location_id, batch_id, movement_id, qty_used, unit_cost_snapshot, total_cost)
       select $1, 'WO-NEG', $2, $3, $4, id, -1, 1, -1 from movement`,
      [tenant, part.id, location.id, older.id],
      OWNER_BYPASS,
    );
    const health = await parts('CheckInventoryHealth', {});
    expect(counts(health)).toEqual({ ...CLEAN, negative: '1' });
    expect(health.negativeQuantities.examples).toEqual([
      expect.objectContaining({ workOrderId: 'WO-NEG', partId: part.id, detail: 'work order returned 1.000 more than it was issued' }),
    ]);
  });
});

describe('the database itself', () => {
  it('refuses UPDATE, DELETE and TRUNCATE of movements and work-order lines, for the service role and the owner alike', async () => {
    const { tenant } = await stocked('append-only');
    for (const table of ['part_movements', 'work_order_lines']) {
      const as_service = { as_app_role: true, tenant };
      await expect(rawQuery(`update ${table} set created_at = now() where tenant_id = $1`, [tenant], as_service)).rejects.toMatchObject({ code: '42501' });
      await expect(rawQuery(`delete from ${table} where tenant_id = $1`, [tenant], as_service)).rejects.toMatchObject({ code: '42501' });
      // The owner (here a superuser) has the privileges; the trigger still refuses.
      await expect(rawQuery(`update ${table} set created_at = now() where tenant_id = $1`, [tenant])).rejects.toThrow(/append-only; UPDATE is not allowed/);
      await expect(rawQuery(`delete from ${table} where tenant_id = $1`, [tenant])).rejects.toThrow(/append-only; DELETE is not allowed/);
      await expect(rawQuery(`truncate ${table} cascade`)).rejects.toThrow(/append-only; TRUNCATE is not allowed/);
    }
    const [{ movements }] = await rawQuery<{ movements: string }>('select count(*)::text as movements from part_movements where tenant_id = $1', [tenant]);
    expect(movements).toBe('3');
  });

  it('refuses negative quantities, a layer above what it received, and a movement whose sign contradicts its type', async () => {
    const { tenant, part, location, older } = await stocked('checks');
    const refused = { code: '23514' };
    await expect(rawQuery('update part_batches set qty_on_hand = -1 where tenant_id = $1 and id = $2', [tenant, older.id])).rejects.toMatchObject(refused);
    await expect(rawQuery('update part_batches set qty_on_hand = 6 where tenant_id = $1 and id = $2', [tenant, older.id])).rejects.toMatchObject(refused);
    await expect(rawQuery('update part_balances set qty_on_hand = -0.001 where tenant_id = $1', [tenant])).rejects.toMatchObject(refused);
    await expect(
      rawQuery(
        `insert into part_movements (tenant_id, type, part_id, location_id, batch_id, from_location_id, qty_delta, unit_cost, work_order_id, created_by)
         values ($1, 'ISSUE', $2, $3, $4, $3, 1, 1, 'WO-1', 'x')`,
        [tenant, part.id, location.id, older.id],
      ),
    ).rejects.toMatchObject(refused);
    // INSERT ... VALUES, not INSERT ... SELECT: Citus would run the latter as a COPY into the shard, whose
    // refusals it relays without their SQLSTATE (XX000).
    const [movement] = await rawQuery<{ id: string }>('select id::text from part_movements where tenant_id = $1 limit 1', [tenant]);
    await expect(
      rawQuery(
        `insert into work_order_lines (tenant_id, work_order_id, part_id, location_id, batch_id, movement_id, qty_used, unit_cost_snapshot, total_cost)
         values ($1, 'WO-1', $2, $3, $4, $5, 1, 1, 0.99)`,
        [tenant, part.id, location.id, older.id, movement.id],
      ),
    ).rejects.toMatchObject(refused);
  });
});
