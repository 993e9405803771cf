/**
 * Tenants share tables but never rows: everything a tenant names (product
 * ids, references, idempotency keys, page tokens) means nothing to another,
 * enforced by the code's tenant filter and by row-level security.
 */
import type * as grpc from '@grpc/grpc-js';
import { call, expectError, rawQuery, startStockroom, uniqueTenant, type TestStockroom } from './support/harness.js';

const SERVICE = 'stockroom.inventory.v1.InventoryService';
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;

let stockroom: TestStockroom;
let client: grpc.Client;

beforeAll(async () => {
  stockroom = await startStockroom();
  client = stockroom.grpcClient(SERVICE);
});

afterAll(async () => {
  await stockroom.close();
});

async function tenant(sub = 'alice', roles: ('viewer' | 'operator' | 'admin')[] = ['admin']) {
  const name = uniqueTenant('inv-tenant');
  const token = await stockroom.token({ tenant: name, roles, sub });
  const rpc = <T = any>(method: string, request: object, as = token) => call<T>(client, method, request, as);
  return { name, token, rpc };
}

/** Tenant A with one stocked, partly reserved product and a few movements. */
async function tenantWithStock() {
  const a = await tenant();
  await a.rpc('CreateItem', { productId: 'SHARED-ID', sku: 'A-SKU', name: 'A product', reorderPoint: 1 });
  await a.rpc('RecordInbound', { productId: 'SHARED-ID', quantity: 10, reference: 'PO-A' });
  await a.rpc('Reserve', { items: [{ productId: 'SHARED-ID', quantity: 4 }], reference: 'ORDER-A' });
  await a.rpc('CreateItem', { productId: 'A-ONLY', sku: '', name: 'Another', reorderPoint: 0 });
  return a;
}

test("tenant B cannot read, list, reserve, release or commit tenant A's items", async () => {
  const a = await tenantWithStock();
  const b = await tenant('bob');
  const a_item = (await a.rpc('GetItem', { productId: 'SHARED-ID' })).item;

  expect((await expectError(b.rpc('GetItem', { productId: 'SHARED-ID' }))).code).toBe(NOT_FOUND);
  expect((await b.rpc('ListItems', {})).items).toEqual([]);
  expect((await b.rpc('ListItems', { productIds: ['SHARED-ID', 'A-ONLY'] })).items).toEqual([]);
  expect((await expectError(b.rpc('CheckAvailability', { items: [{ productId: 'SHARED-ID', quantity: 1 }] }))).code).toBe(NOT_FOUND);
  expect((await expectError(b.rpc('Reserve', { items: [{ productId: 'SHARED-ID', quantity: 1 }], reference: 'ORDER-A' }))).code).toBe(NOT_FOUND);
  expect((await expectError(b.rpc('GetReservation', { reference: 'ORDER-A' }))).code).toBe(NOT_FOUND);
  expect((await expectError(b.rpc('Release', { items: [], reference: 'ORDER-A' }))).code).toBe(NOT_FOUND);
  expect((await expectError(b.rpc('CommitOutbound', { items: [{ productId: 'SHARED-ID', quantity: 1 }], reference: 'ORDER-A' }))).code).toBe(NOT_FOUND);
  expect((await expectError(b.rpc('RecordDamage', { productId: 'SHARED-ID', quantity: 1 }))).code).toBe(NOT_FOUND);
  expect((await expectError(b.rpc('UpdateItem', { item: { productId: 'SHARED-ID', name: 'mine now' }, updateMask: { paths: ['name'] } }))).code).toBe(NOT_FOUND);
  expect((await b.rpc('ListMovements', {})).movements).toEqual([]);
  expect((await b.rpc('ListMovements', { itemId: a_item.id })).movements).toEqual([]);
  expect((await b.rpc('ListMovements', { reference: 'PO-A' })).movements).toEqual([]);

  // A is untouched.
  expect((await a.rpc('GetItem', { productId: 'SHARED-ID' })).item).toMatchObject({ name: 'A product', onHand: '10', reserved: '4' });
  expect((await a.rpc('GetReservation', { reference: 'ORDER-A' })).reservation.lines[0]).toMatchObject({ held: '4' });
});

test("tenant B creates the same product id without ALREADY_EXISTS, and its stock is its own", async () => {
  const a = await tenantWithStock();
  const b = await tenant('bob');
  const created = (await b.rpc('CreateItem', { productId: 'SHARED-ID', sku: 'B-SKU', name: 'B product', reorderPoint: 0 })).item;
  expect(created).toMatchObject({ productId: 'SHARED-ID', onHand: '0' });
  await b.rpc('RecordInbound', { productId: 'SHARED-ID', quantity: 3 });
  await b.rpc('Reserve', { items: [{ productId: 'SHARED-ID', quantity: 3 }], reference: 'ORDER-A' });
  expect((await b.rpc('GetItem', { productId: 'SHARED-ID' })).item).toMatchObject({ onHand: '3', reserved: '3', sku: 'B-SKU' });
  expect((await a.rpc('GetItem', { productId: 'SHARED-ID' })).item).toMatchObject({ onHand: '10', reserved: '4', sku: 'A-SKU' });
  // The same reference name in both tenants is two reservations.
  expect((await a.rpc('GetReservation', { reference: 'ORDER-A' })).reservation.lines[0]).toMatchObject({ held: '4' });
  expect((await b.rpc('GetReservation', { reference: 'ORDER-A' })).reservation.lines[0]).toMatchObject({ held: '3' });
});

test('idempotency keys are per tenant: the same key in two tenants is two requests', async () => {
  const a = await tenantWithStock();
  const b = await tenant('bob');
  await b.rpc('CreateItem', { productId: 'SHARED-ID', sku: '', name: 'B', reorderPoint: 0 });
  await b.rpc('RecordInbound', { productId: 'SHARED-ID', quantity: 5 });
  const request = { items: [{ productId: 'SHARED-ID', quantity: 2 }], reference: 'ORDER-K', idempotencyKey: 'same-key' };
  await a.rpc('Reserve', request);
  const b_answer = await b.rpc('Reserve', request);
  expect(b_answer.items[0]).toMatchObject({ onHand: '5', reserved: '2' });
  expect((await a.rpc('GetItem', { productId: 'SHARED-ID' })).item).toMatchObject({ reserved: '6' });
});

test('page tokens from one tenant mean nothing in another', async () => {
  const a = await tenantWithStock();
  const b = await tenant('bob');
  await b.rpc('CreateItem', { productId: 'B-1', sku: '', name: 'B1', reorderPoint: 0 });
  await b.rpc('CreateItem', { productId: 'B-2', sku: '', name: 'B2', reorderPoint: 0 });
  const items_page = await a.rpc('ListItems', { pageSize: 1 });
  expect(items_page.nextPageToken).not.toBe('');
  const items_error = await expectError(b.rpc('ListItems', { pageSize: 1, pageToken: items_page.nextPageToken }));
  expect(items_error.code).toBe(INVALID_ARGUMENT);
  expect(items_error.badRequest?.fieldViolations[0].field).toBe('page_token');

  await a.rpc('RecordInbound', { productId: 'A-ONLY', quantity: 1 });
  const movements_page = await a.rpc('ListMovements', { pageSize: 1 });
  expect(movements_page.nextPageToken).not.toBe('');
  expect((await expectError(b.rpc('ListMovements', { pageSize: 1, pageToken: movements_page.nextPageToken }))).code).toBe(INVALID_ARGUMENT);
  // A's own token still works for A.
  expect((await a.rpc('ListItems', { pageSize: 1, pageToken: items_page.nextPageToken })).items[0].productId).toBe('SHARED-ID');
});

test("movements record the caller's sub as their author", async () => {
  const a = await tenant('alice');
  const bob = await stockroom.token({ tenant: a.name, roles: ['operator'], sub: 'bob@example.com' });
  await a.rpc('CreateItem', { productId: 'P', sku: '', name: 'P', reorderPoint: 0 });
  const inbound = await a.rpc('RecordInbound', { productId: 'P', quantity: 5 });
  expect(inbound.movement.createdBy).toBe('alice');
  await a.rpc('Reserve', { items: [{ productId: 'P', quantity: 2 }], reference: 'O-1' }, bob);
  const shipped = await a.rpc('CommitOutbound', { items: [{ productId: 'P', quantity: 2 }], reference: 'O-1' }, bob);
  expect(shipped.movements[0].createdBy).toBe('bob@example.com');
  const listed = (await a.rpc('ListMovements', {})).movements.map((m: { createdBy: string; type: string }) => [m.type, m.createdBy]);
  expect(listed).toEqual([
    ['MOVEMENT_TYPE_OUTBOUND', 'bob@example.com'],
    ['MOVEMENT_TYPE_INBOUND', 'alice'],
  ]);
  const stored = await rawQuery<{ created_by: string }>('select created_by from inventory_movements where tenant_id = $1 order by id', [a.name]);
  expect(stored.map((row) => row.created_by)).toEqual(['alice', 'bob@example.com']);
});

test('row-level security: the service role sees only the tenant set on its transaction', async () => {
  const a = await tenantWithStock();
  const b = await tenant('bob');
  const count = async (table: string, tenant?: string) => {
    const [row] = await rawQuery<{ n: string }>(`select count(*) as n from ${table} where tenant_id = $1`, [a.name], { as_app_role: true, tenant });
    return Number(row.n);
  };
  for (const table of ['inventory_items', 'inventory_reservations', 'inventory_movements']) {
    expect(await count(table, a.name)).toBeGreaterThan(0);
    // Even asking for A's rows by name, B's transaction (or one with no tenant) sees none.
    expect(await count(table, b.name)).toBe(0);
    expect(await count(table)).toBe(0);
  }
  // And it cannot write rows for another tenant.
  await expect(
    rawQuery(`insert into inventory_items (tenant_id, product_id, name) values ($1, 'SNEAKY', 'x')`, [a.name], { as_app_role: true, tenant: b.name }),
  ).rejects.toThrow(/row-level security/);
});
