/**
 * Locks as documented (issue 10, item 7; the order is in
 * src/db/lock-order.ts): a layer of another place is never locked, a receipt
 * into a new balance locks the part before the balance (as DeletePart
 * does), refusals report the numbers they were decided on under the lock,
 * and the products-per-reference limit holds under concurrent Reserves.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { connectionConfig } from '../src/db/session.js';
import { call, expectError, newTenant, rawQuery, startStockroom, testDatabaseUrl, testRuntimeRole, type TestStockroom } from './support/harness.js';

let stockroom: TestStockroom;
let inventory_client: grpc.Client;
let parts_client: grpc.Client;

beforeAll(async () => {
  stockroom = await startStockroom();
  inventory_client = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
  parts_client = stockroom.grpcClient('stockroom.parts.v1.PartsService');
});

afterAll(async () => {
  await stockroom?.close();
});

/** A transaction held open across service calls, as the runtime role of `tenant` (or as the owner). */
async function openTransaction(tenant: string, as_service = true) {
  const client = new pg.Client(connectionConfig(testDatabaseUrl()));
  await client.connect();
  await client.query('begin');
  if (as_service) await client.query(`set local role ${pg.escapeIdentifier(testRuntimeRole())}`);
  await client.query(`set local stockroom.tenant_id = ${pg.escapeLiteral(tenant)}`);
  return {
    query: (text: string, params: unknown[] = []) => client.query(text, params),
    async end(outcome: 'commit' | 'rollback') {
      await client.query(outcome);
      await client.end();
    },
  };
}

const settle = () => sleep(300);

/** Whether a promise is still pending after a moment (the call waits on a lock). */
async function stillWaiting(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  const first = await Promise.race([promise.then(() => 'done', () => 'failed'), settle().then(() => marker)]);
  return first === marker;
}

async function partsPlace(prefix: string) {
  const { tenant, call: parts } = await newTenant(stockroom, parts_client, prefix);
  const { part } = await parts('CreatePart', { part: { partNumber: 'LOCK-1', name: 'Bolt' } });
  const { location: a } = await parts('CreateLocation', { location: { site: 'PLANT', name: 'A' } });
  const { location: b } = await parts('CreateLocation', { location: { site: 'PLANT', name: 'B' } });
  return { tenant, parts, part, a, b };
}

describe('the lock order', () => {
  it('never locks a layer of another location: ReturnToVendor naming it is refused at once, not after a lock wait', async () => {
    const { tenant, parts, part, a, b } = await partsPlace('lock-rtv');
    await parts('ReceiveParts', { partId: part.id, locationId: a.id, qty: '5', unitCost: '1' });
    const { batch: elsewhere } = await parts('ReceiveParts', { partId: part.id, locationId: b.id, qty: '5', unitCost: '1' });
    // Another transaction works on B's layer (it holds B's balance and the layer).
    const other = await openTransaction(tenant, false);
    await other.query('select 1 from part_balances where tenant_id = $1 and location_id = $2 for update', [tenant, b.id]);
    await other.query('select 1 from part_batches where tenant_id = $1 and id = $2 for update', [tenant, elsewhere.id]);
    try {
      const started = Date.now();
      const refused = await expectError(parts('ReturnToVendor', { partId: part.id, locationId: a.id, qty: '1', batchId: elsewhere.id, reason: 'bad' }));
      expect(refused).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, errorInfo: expect.objectContaining({ reason: 'BATCH_NOT_AT_LOCATION' }) });
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await other.end('rollback');
    }
  });

  it('locks the part before a new balance, as DeletePart does: a receipt racing a delete waits instead of deadlocking', async () => {
    const { tenant, parts, part, a } = await partsPlace('lock-delete');
    // DeletePart's order: the part row (FOR UPDATE), then its balances, then the part.
    const deleting = await openTransaction(tenant, false);
    await deleting.query('select 1 from parts where tenant_id = $1 and id = $2 for update', [tenant, part.id]);
    const receipt = parts('ReceiveParts', { partId: part.id, locationId: a.id, qty: '1', unitCost: '1' });
    receipt.catch(() => {});
    expect(await stillWaiting(receipt)).toBe(true);
    // The waiting receipt has not touched the balance yet: the balance row is free (had the receipt
    // inserted it first and then waited for the part, this would wait for the receipt: a deadlock).
    await deleting.query(`set local lock_timeout = '200ms'`);
    await deleting.query('insert into part_balances (tenant_id, part_id, location_id) values ($1, $2, $3)', [tenant, part.id, a.id]);
    await deleting.query('delete from part_balances where tenant_id = $1 and part_id = $2', [tenant, part.id]);
    await deleting.query('delete from parts where tenant_id = $1 and id = $2', [tenant, part.id]);
    await deleting.end('commit');
    const refused = await expectError(receipt);
    expect(refused).toMatchObject({ code: grpc.status.NOT_FOUND });
  });
});

describe('refusals decided under the lock', () => {
  it('inventory: a decrease that waits for stock arriving is made, not refused with numbers read after', async () => {
    const { tenant, call: inventory } = await newTenant(stockroom, inventory_client, 'lock-refusal-inv');
    await inventory('CreateItem', { productId: 'A', sku: 'A', name: 'Anvil', reorderPoint: 0 });
    await inventory('RecordInbound', { productId: 'A', quantity: 3, reference: 'PO-1' });
    const [item] = await rawQuery<{ id: string }>('select id from inventory_items where tenant_id = $1', [tenant]);
    // Stock arriving in a transaction still open: the damage of 5 sees 3 in its snapshot.
    const arriving = await openTransaction(tenant);
    await arriving.query(`insert into inventory_movements (tenant_id, item_id, type, quantity, created_by) values ($1, $2, 'INBOUND', 4, 'dock')`, [
      tenant,
      item.id,
    ]);
    const damage = inventory('RecordDamage', { productId: 'A', quantity: 5, reference: 'DMG-1' });
    damage.catch(() => {});
    expect(await stillWaiting(damage)).toBe(true);
    await arriving.end('commit');
    const { item: after } = await damage;
    expect(after).toMatchObject({ onHand: '2' });
  });

  it('inventory: a refusal reports the numbers it was refused on', async () => {
    const { tenant, call: inventory } = await newTenant(stockroom, inventory_client, 'lock-refusal-num');
    await inventory('CreateItem', { productId: 'A', sku: 'A', name: 'Anvil', reorderPoint: 0 });
    await inventory('RecordInbound', { productId: 'A', quantity: 3, reference: 'PO-1' });
    const [item] = await rawQuery<{ id: string }>('select id from inventory_items where tenant_id = $1', [tenant]);
    const arriving = await openTransaction(tenant);
    await arriving.query(`insert into inventory_movements (tenant_id, item_id, type, quantity, created_by) values ($1, $2, 'INBOUND', 1, 'dock')`, [
      tenant,
      item.id,
    ]);
    const damage = expectError(inventory('RecordDamage', { productId: 'A', quantity: 5, reference: 'DMG-1' }));
    expect(await stillWaiting(damage)).toBe(true);
    await arriving.end('commit');
    const refused = await damage;
    expect(refused.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(refused.errorInfo?.metadata).toMatchObject({ requested: '5', available: '4' });
  });

  it('parts: an issue that waits for stock arriving is made; one still short reports the stock it saw under the lock', async () => {
    const { tenant, parts, part, a } = await partsPlace('lock-refusal-parts');
    await parts('ReceiveParts', { partId: part.id, locationId: a.id, qty: '3', unitCost: '1' });
    // A receipt in a transaction still open: a new layer and its RECEIVE movement. Two INSERT ... VALUES, not
    // one statement with a CTE: Citus runs that in steps, the second as a COPY, which row-level security refuses.
    const arrive = async (qty: number) => {
      const arriving = await openTransaction(tenant);
      const { rows } = await arriving.query(
        `insert into part_batches (tenant_id, part_id, location_id, qty_received, unit_cost, received_at) values ($1, $2, $3, $4, 1, now()) returning id`,
        [tenant, part.id, a.id, qty],
      );
      await arriving.query(
        `insert into part_movements (tenant_id, type, part_id, location_id, batch_id, to_location_id, qty_delta, unit_cost, created_by)
         values ($1, 'RECEIVE', $2, $3, $4, $3, $5, 1, 'dock')`,
        [tenant, part.id, a.id, rows[0].id, qty],
      );
      return arriving;
    };
    let arriving = await arrive(2);
    const issue = parts('IssueToWorkOrder', { workOrderId: 'WO-1', partId: part.id, locationId: a.id, qty: '5' });
    issue.catch(() => {});
    expect(await stillWaiting(issue)).toBe(true);
    await arriving.end('commit');
    expect((await issue).qtyOnHandAfter).toBe('0.000');

    arriving = await arrive(1);
    const short = expectError(parts('IssueToWorkOrder', { workOrderId: 'WO-1', partId: part.id, locationId: a.id, qty: '2' }));
    expect(await stillWaiting(short)).toBe(true);
    await arriving.end('commit');
    const refused = await short;
    expect(refused.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(JSON.stringify(refused.details)).toContain('"available":"1.000"');
  });
});

describe('the products-per-reference limit', () => {
  it('is exact when Reserves add products to one reference at once', async () => {
    const { token, call: inventory } = await newTenant(stockroom, inventory_client, 'lock-limit');
    const ids = Array.from({ length: 1_010 }, (_, n) => `P${String(n).padStart(4, '0')}`);
    for (let start = 0; start < ids.length; start += 50) {
      await Promise.all(ids.slice(start, start + 50).map((id) => inventory('CreateItem', { productId: id, sku: id, name: id, reorderPoint: 0 })));
    }
    await Promise.all(ids.map((id) => inventory('RecordInbound', { productId: id, quantity: 1, reference: 'PO' })));
    // 995 products in the reference, then 10 Reserves of one new product each, all at once: exactly 5 fit.
    for (let start = 0; start < 995; start += 100) {
      const lines = ids.slice(start, Math.min(start + 100, 995)).map((productId) => ({ productId, quantity: 1 }));
      await inventory('Reserve', { items: lines, reference: 'BIG' });
    }
    const outcomes = await Promise.allSettled(
      ids.slice(995, 1_005).map((productId) => call(inventory_client, 'Reserve', { items: [{ productId, quantity: 1 }], reference: 'BIG' }, token)),
    );
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(5);
    for (const outcome of outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')) {
      const refused = await expectError(Promise.reject(outcome.reason));
      expect(refused.errorInfo).toMatchObject({ reason: 'RESERVATION_PRODUCT_LIMIT_EXCEEDED', metadata: expect.objectContaining({ products: '1001', limit: '1000' }) });
    }
    const { reservation } = await inventory('GetReservation', { reference: 'BIG' });
    expect(reservation.lines).toHaveLength(1_000);
  });
});
