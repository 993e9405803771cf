/**
 * Inventory health check and reconcile (issue 10, item 8): drift between
 * items, holds and the ledger, injected in SQL as the superuser (with
 * triggers off, as a bad restore or a hand edit would), is reported for that
 * tenant only; clean data reports 0.
 */
import * as grpc from '@grpc/grpc-js';
import { call, expectError, newTenant, rawQuery, startStockroom, type TenantCall, type TestStockroom } from './support/harness.js';

let stockroom: TestStockroom;
let client: grpc.Client;

beforeAll(async () => {
  stockroom = await startStockroom();
  client = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
});

afterAll(async () => {
  await stockroom?.close();
});

/** Every kind of write of the order flow, on three products. */
async function cleanHistory(rpc: TenantCall): Promise<void> {
  for (const product of ['X', 'Y', 'Z']) {
    await rpc('CreateItem', { productId: product, sku: `SKU-${product}`, name: `Product ${product}`, reorderPoint: 1 });
    await rpc('RecordInbound', { productId: product, quantity: 20, reference: 'PO-1' });
  }
  await rpc('Reserve', { items: [{ productId: 'X', quantity: 5 }, { productId: 'Y', quantity: 6 }], reference: 'ORDER-1' });
  await rpc('CommitOutbound', { items: [{ productId: 'X', quantity: 2 }, { productId: 'Y', quantity: 3 }], reference: 'ORDER-1' });
  await rpc('Release', { items: [{ productId: 'X', quantity: 1 }], reference: 'ORDER-1' });
  await rpc('Reserve', { items: [{ productId: 'Y', quantity: 2 }], reference: 'ORDER-2' });
  await rpc('AdjustInventory', { productId: 'Z', quantityDelta: -4, reason: 'cycle count' });
  await rpc('RecordDamage', { productId: 'Z', quantity: 1, reference: '', notes: 'dropped' });
  await rpc('RecordReturn', { productId: 'Z', quantity: 2, reference: 'RMA-1', notes: '' });
}

const FINDINGS = ['onHandLedgerMismatches', 'reservedHoldMismatches', 'onHandAfterBreaks', 'commitLedgerMismatches'] as const;

function counts(report: Record<string, { count: string }>): Record<string, number> {
  return Object.fromEntries(FINDINGS.map((name) => [name, Number(report[name].count)]));
}

/** As the superuser with triggers off: what no statement of the runtime role may do. */
async function forge(text: string, params: unknown[]): Promise<void> {
  const rows = await rawQuery(`with changed as (${text} returning 1) select count(*)::int as n from changed`, params, {
    settings: { session_replication_role: 'replica' },
  });
  expect(rows[0].n).toBe(1);
}

test('clean data reports 0 and every item consistent', async () => {
  const { call: rpc } = await newTenant(stockroom, client, 'health-clean');
  await cleanHistory(rpc);
  const report = await rpc('CheckInventoryHealth', {});
  expect(report.healthy).toBe(true);
  expect(counts(report)).toEqual({ onHandLedgerMismatches: 0, reservedHoldMismatches: 0, onHandAfterBreaks: 0, commitLedgerMismatches: 0 });
  expect(report.itemsChecked).toBe('3');
  const reconciled = await rpc('Reconcile', {});
  expect(reconciled.inconsistentRows).toBe(0);
  expect(reconciled.rows.map((row: any) => [row.productId, row.onHand, row.ledgerOnHand, row.lastOnHandAfter, row.reserved, row.held])).toEqual([
    ['X', '18', '18', '18', '2', '2'],
    ['Y', '17', '17', '17', '5', '5'],
    ['Z', '17', '17', '17', '0', '0'],
  ]);
});

test("faults injected in SQL are reported with examples, for that tenant only", async () => {
  const a = await newTenant(stockroom, client, 'health-a');
  const b = await newTenant(stockroom, client, 'health-b');
  await cleanHistory(a.call);
  await cleanHistory(b.call);
  const item = async (tenant: string, product: string) =>
    (await rawQuery<{ id: string }>(`select id from inventory_items where tenant_id = $1 and product_id = $2`, [tenant, product]))[0].id;
  const x = await item(a.tenant, 'X');
  const y = await item(a.tenant, 'Y');
  const z = await item(a.tenant, 'Z');
  // on_hand moved by 100 with no movement.
  await forge(`update inventory_items set on_hand = on_hand + 100 where tenant_id = $1 and id = $2`, [a.tenant, x]);
  // reserved set to 0 while references still hold units.
  await forge(`update inventory_items set reserved = 0 where tenant_id = $1 and id = $2`, [a.tenant, y]);
  // A movement (not the newest) claiming on_hand_after = 999999.
  await forge(
    `update inventory_movements set on_hand_after = 999999 where tenant_id = $1 and id = (select min(id) from inventory_movements where tenant_id = $1 and item_id = $2)`,
    [a.tenant, z],
  );
  // A reservation line committing 50 with no stock change.
  await forge(`update inventory_reservations set committed = 50 where tenant_id = $1 and reference = 'ORDER-2' and item_id = $2`, [a.tenant, y]);

  const report = await a.call('CheckInventoryHealth', {});
  expect(report.healthy).toBe(false);
  expect(counts(report)).toEqual({ onHandLedgerMismatches: 1, reservedHoldMismatches: 1, onHandAfterBreaks: 2, commitLedgerMismatches: 1 });
  expect(report.onHandLedgerMismatches.examples).toEqual([
    { itemId: x, productId: 'X', movementId: '', reference: '', detail: 'on_hand 118, its movements sum to 18' },
  ]);
  expect(report.reservedHoldMismatches.examples[0]).toMatchObject({ productId: 'Y', detail: 'reserved 0, its order references hold 5' });
  expect(report.onHandAfterBreaks.examples.map((example: any) => [example.productId, example.detail])).toEqual([
    ['X', 'on_hand 118, the newest movement left 18'],
    ['Z', 'on_hand_after 999999, the ledger up to this movement sums to 20'],
  ]);
  expect(report.commitLedgerMismatches.examples[0]).toMatchObject({ productId: 'Y', reference: 'ORDER-2', detail: "committed 50, the reference's OUTBOUND movements ship 0" });

  const differences = await a.call('Reconcile', { onlyDifferences: true });
  expect(differences.rows.map((row: any) => [row.productId, row.onHandMinusLedger, row.reservedMinusHeld])).toEqual([
    ['X', '100', '0'],
    ['Y', '0', '-5'],
  ]);
  expect(differences.inconsistentRows).toBe(2);

  // Tenant B's data is untouched, and B's report says so.
  const other = await b.call('CheckInventoryHealth', {});
  expect(other.healthy).toBe(true);
  expect(counts(other)).toEqual({ onHandLedgerMismatches: 0, reservedHoldMismatches: 0, onHandAfterBreaks: 0, commitLedgerMismatches: 0 });
  expect((await b.call('Reconcile', { onlyDifferences: true })).rows).toEqual([]);
});

test('Reconcile pages by product id and refuses a token of other filters', async () => {
  const { call: rpc } = await newTenant(stockroom, client, 'health-pages');
  await cleanHistory(rpc);
  const first = await rpc('Reconcile', { pageSize: 2 });
  expect(first.rows.map((row: any) => row.productId)).toEqual(['X', 'Y']);
  const second = await rpc('Reconcile', { pageSize: 2, pageToken: first.nextPageToken });
  expect(second.rows.map((row: any) => row.productId)).toEqual(['Z']);
  expect(second.nextPageToken).toBe('');
  const refused = await expectError(rpc('Reconcile', { pageSize: 2, pageToken: first.nextPageToken, onlyDifferences: true }));
  expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect((await rpc('Reconcile', { productId: 'Y' })).rows.map((row: any) => row.productId)).toEqual(['Y']);
});

test('only an admin may run them', async () => {
  const operator = await newTenant(stockroom, client, 'health-operator', { roles: ['operator'] });
  for (const method of ['CheckInventoryHealth', 'Reconcile']) {
    const denied = await expectError(call(client, method, {}, operator.token));
    expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
  }
});
