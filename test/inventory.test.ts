/**
 * InventoryService through the real server and real grpc-js clients over
 * HTTP/2, on the run's PostgreSQL: catalog, the order flow, stock changes,
 * the ledger, errors a client can act on, and the database's own guards.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type * as grpc from '@grpc/grpc-js';
import { InsufficientStockDetailSchema, ReservationExceededDetailSchema } from '../gen/stockroom/inventory/v1/error_details_pb.js';
import { call, expectError, rawQuery, startStockroom, uniqueTenant, type TestStockroom } from './support/harness.js';

const SERVICE = 'stockroom.inventory.v1.InventoryService';
const DOMAIN = 'stockroom.inventory.v1';
const DETAIL_SCHEMAS = [InsufficientStockDetailSchema, ReservationExceededDetailSchema];

const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;
const PERMISSION_DENIED = 7;
const FAILED_PRECONDITION = 9;

let stockroom: TestStockroom;
let client: grpc.Client;

beforeAll(async () => {
  stockroom = await startStockroom();
  client = stockroom.grpcClient(SERVICE);
});

afterAll(async () => {
  await stockroom.close();
});

/** A fresh tenant per test: its own products, references and keys. */
async function tenant(roles: ('viewer' | 'operator' | 'admin')[] = ['admin'], sub = 'alice') {
  const name = uniqueTenant('inv');
  const token = await stockroom.token({ tenant: name, roles, sub });
  const rpc = <T = any>(method: string, request: object, as = token) => call<T>(client, method, request, as);
  return { name, token, rpc };
}

type Rpc = Awaited<ReturnType<typeof tenant>>['rpc'];

async function stocked(rpc: Rpc, product_id: string, on_hand: number, reorder_point = 0) {
  await rpc('CreateItem', { productId: product_id, sku: `SKU-${product_id}`, name: `Product ${product_id}`, reorderPoint: reorder_point });
  if (on_hand > 0) await rpc('RecordInbound', { productId: product_id, quantity: on_hand, reference: 'PO-1' });
}

async function item(rpc: Rpc, product_id: string) {
  return (await rpc('GetItem', { productId: product_id })).item;
}

async function movementCount(tenant_name: string): Promise<number> {
  const [row] = await rawQuery<{ n: string }>('select count(*) as n from inventory_movements where tenant_id = $1', [tenant_name]);
  return Number(row.n);
}

describe('catalog', () => {
  test('creates, reads, lists and updates items; a duplicate product id is ALREADY_EXISTS', async () => {
    const { rpc } = await tenant();
    const created = (await rpc('CreateItem', { productId: 'P-1', sku: 'SKU-1', name: 'Widget', reorderPoint: 3 })).item;
    expect(created).toMatchObject({ productId: 'P-1', sku: 'SKU-1', name: 'Widget', onHand: '0', reserved: '0', available: '0', reorderPoint: '3', needsReorder: true });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.createTime.seconds).not.toBe('0');

    const duplicate = await expectError(rpc('CreateItem', { productId: 'P-1', sku: 'other', name: 'Other', reorderPoint: 0 }));
    expect(duplicate.code).toBe(ALREADY_EXISTS);
    expect(duplicate.errorInfos).toHaveLength(1);
    expect(duplicate.errorInfo).toMatchObject({ reason: 'PRODUCT_ALREADY_EXISTS', domain: DOMAIN });

    await stocked(rpc, 'P-2', 10, 2);
    await stocked(rpc, 'P-3', 1, 5);
    const needing = await rpc('ListItems', { needsReorder: true });
    expect(needing.items.map((i: { productId: string }) => i.productId)).toEqual(['P-1', 'P-3']);
    const healthy = await rpc('ListItems', { needsReorder: false });
    expect(healthy.items.map((i: { productId: string }) => i.productId)).toEqual(['P-2']);

    const updated = (await rpc('UpdateItem', { item: { productId: 'P-2', name: 'Gadget', reorderPoint: 50, sku: 'ignored' }, updateMask: { paths: ['name'] } })).item;
    expect(updated).toMatchObject({ name: 'Gadget', reorderPoint: '2', sku: 'SKU-P-2', onHand: '10' });
    const reorder = (await rpc('UpdateItem', { item: { productId: 'P-2', reorderPoint: 10 }, updateMask: { paths: ['reorder_point'] } })).item;
    expect(reorder).toMatchObject({ name: 'Gadget', reorderPoint: '10', needsReorder: true });
    const bad_mask = await expectError(rpc('UpdateItem', { item: { productId: 'P-2', sku: 'x' }, updateMask: { paths: ['sku'] } }));
    expect(bad_mask.code).toBe(INVALID_ARGUMENT);
    expect(bad_mask.badRequest?.fieldViolations.map((v) => v.field)).toContain('update_mask');

    const all = await rpc('ListItems', {});
    expect(all.items.map((i: { productId: string }) => i.productId)).toEqual(['P-1', 'P-2', 'P-3']);
    expect(all.nextPageToken).toBe('');
    expect((await rpc('ListItems', { needsReorder: true })).items).toHaveLength(3);
    const by_ids = await rpc('ListItems', { productIds: ['P-3', 'P-1', 'nope'] });
    expect(by_ids.items.map((i: { productId: string }) => i.productId)).toEqual(['P-1', 'P-3']);

    // Paging: one item per page, in product id order, until the token is empty.
    const seen: string[] = [];
    let token = '';
    do {
      const page = await rpc('ListItems', { pageSize: 1, pageToken: token });
      seen.push(...page.items.map((i: { productId: string }) => i.productId));
      token = page.nextPageToken;
    } while (token !== '');
    expect(seen).toEqual(['P-1', 'P-2', 'P-3']);
  });

  test('an unknown product is NOT_FOUND naming the field', async () => {
    const { rpc } = await tenant();
    await stocked(rpc, 'A', 5);
    const get = await expectError(rpc('GetItem', { productId: 'missing' }));
    expect(get.code).toBe(NOT_FOUND);
    expect(get.errorInfo).toMatchObject({ reason: 'PRODUCT_NOT_FOUND', domain: DOMAIN, metadata: { resourceName: 'missing' } });
    const reserve = await expectError(rpc('Reserve', { items: [{ productId: 'A', quantity: 1 }, { productId: 'missing', quantity: 1 }], reference: 'O-1' }));
    expect(reserve.code).toBe(NOT_FOUND);
    const inbound = await expectError(rpc('RecordInbound', { productId: 'missing', quantity: 1 }));
    expect(inbound.code).toBe(NOT_FOUND);
    // The refused Reserve left nothing behind.
    expect((await item(rpc, 'A')).reserved).toBe('0');
  });
});

describe('order flow', () => {
  test('check, reserve, commit in parts and release: balances, movements and the reservation record', async () => {
    const { rpc, name } = await tenant();
    await stocked(rpc, 'A', 10);
    await stocked(rpc, 'B', 4);

    const check = await rpc('CheckAvailability', { items: [{ productId: 'A', quantity: 6 }, { productId: 'B', quantity: 5 }] });
    expect(check.available).toBe(false);
    expect(check.items).toEqual([
      { productId: 'A', requested: '6', available: '10', sufficient: true },
      { productId: 'B', requested: '5', available: '4', sufficient: false },
    ]);

    const reserved = await rpc('Reserve', { items: [{ productId: 'A', quantity: 6 }, { productId: 'B', quantity: 4 }], reference: 'ORDER-1' });
    expect(reserved.reference).toBe('ORDER-1');
    expect(reserved.lines.map((l: any) => [l.productId, l.held, l.committed, l.released])).toEqual([
      ['A', '6', '0', '0'],
      ['B', '4', '0', '0'],
    ]);
    expect(reserved.items.map((i: any) => [i.productId, i.onHand, i.reserved, i.available])).toEqual([
      ['A', '10', '6', '4'],
      ['B', '4', '4', '0'],
    ]);
    const movements_before_commit = await movementCount(name);

    // Commit A in two parts, then release the rest of the order.
    const first = await rpc('CommitOutbound', { items: [{ productId: 'A', quantity: 2 }], reference: 'ORDER-1', notes: 'box 1' });
    expect(first.items[0]).toMatchObject({ onHand: '8', reserved: '4', available: '4' });
    expect(first.lines[0]).toMatchObject({ held: '4', committed: '2' });
    expect(first.movements).toHaveLength(1);
    expect(first.movements[0]).toMatchObject({ type: 'MOVEMENT_TYPE_OUTBOUND', quantity: '-2', onHandAfter: '8', reference: 'ORDER-1', notes: 'box 1', createdBy: 'alice' });
    const second = await rpc('CommitOutbound', { items: [{ productId: 'A', quantity: 3 }, { productId: 'B', quantity: 1 }], reference: 'ORDER-1' });
    expect(second.items.map((i: any) => [i.productId, i.onHand, i.reserved])).toEqual([
      ['A', '5', '1'],
      ['B', '3', '3'],
    ]);
    expect(await movementCount(name)).toBe(movements_before_commit + 3);

    const released = await rpc('Release', { items: [], reference: 'ORDER-1' });
    expect(released.lines.map((l: any) => [l.productId, l.held]).sort()).toEqual([
      ['A', '0'],
      ['B', '0'],
    ]);
    // Release writes no movement.
    expect(await movementCount(name)).toBe(movements_before_commit + 3);

    const reservation = (await rpc('GetReservation', { reference: 'ORDER-1' })).reservation;
    expect(reservation.reference).toBe('ORDER-1');
    expect(reservation.lines.map((l: any) => [l.productId, l.held, l.committed, l.released])).toEqual([
      ['A', '0', '5', '1'],
      ['B', '0', '1', '3'],
    ]);
    expect(await item(rpc, 'A')).toMatchObject({ onHand: '5', reserved: '0', available: '5' });
    expect(await item(rpc, 'B')).toMatchObject({ onHand: '3', reserved: '0', available: '3' });

    const unknown = await expectError(rpc('GetReservation', { reference: 'ORDER-404' }));
    expect(unknown.code).toBe(NOT_FOUND);
    expect(unknown.errorInfo?.reason).toBe('RESERVATION_NOT_FOUND');
    const release_unknown = await expectError(rpc('Release', { items: [], reference: 'ORDER-404' }));
    expect(release_unknown.code).toBe(NOT_FOUND);
  });

  test('duplicate lines for one product in one request are summed before the check', async () => {
    const { rpc } = await tenant();
    await stocked(rpc, 'A', 5);
    const check = await rpc('CheckAvailability', { items: [{ productId: 'A', quantity: 3 }, { productId: 'A', quantity: 3 }] });
    expect(check).toEqual({ available: false, items: [{ productId: 'A', requested: '6', available: '5', sufficient: false }] });

    const refused = await expectError(rpc('Reserve', { items: [{ productId: 'A', quantity: 3 }, { productId: 'A', quantity: 3 }], reference: 'O-1' }), DETAIL_SCHEMAS);
    expect(refused.code).toBe(FAILED_PRECONDITION);
    expect(refused.details.find((d) => d.typeName === 'stockroom.inventory.v1.InsufficientStockDetail')?.value).toMatchObject({
      shortages: [{ productId: 'A', requested: 6n, available: 5n }],
    });
    expect((await item(rpc, 'A')).reserved).toBe('0');

    const ok = await rpc('Reserve', { items: [{ productId: 'A', quantity: 2 }, { productId: 'A', quantity: 3 }], reference: 'O-1' });
    expect(ok.lines).toHaveLength(1);
    expect(ok.lines[0].held).toBe('5');

    const over_release = await expectError(rpc('Release', { items: [{ productId: 'A', quantity: 3 }, { productId: 'A', quantity: 3 }], reference: 'O-1' }));
    expect(over_release.errorInfo).toMatchObject({ reason: 'RESERVATION_EXCEEDED', metadata: { productId: 'A', requested: '6', held: '5' } });
  });

  test('INSUFFICIENT_STOCK carries exactly one ErrorInfo and a typed detail with every short product', async () => {
    const { rpc, name } = await tenant();
    await stocked(rpc, 'A', 2);
    await stocked(rpc, 'B', 10);
    await stocked(rpc, 'C', 0);
    const before = await movementCount(name);
    const error = await expectError(
      rpc('Reserve', { items: [{ productId: 'A', quantity: 3 }, { productId: 'B', quantity: 1 }, { productId: 'C', quantity: 7 }], reference: 'O-1' }),
      DETAIL_SCHEMAS,
    );
    expect(error.code).toBe(FAILED_PRECONDITION);
    expect(error.errorInfos).toHaveLength(1);
    expect(error.errorInfo).toMatchObject({
      reason: 'INSUFFICIENT_STOCK',
      domain: DOMAIN,
      metadata: expect.objectContaining({ productId: 'A', requested: '3', available: '2', shortCount: '2' }),
    });
    const detail = error.details.find((d) => d.typeName === 'stockroom.inventory.v1.InsufficientStockDetail')?.value as { shortages: unknown[] };
    expect(detail.shortages).toEqual([
      expect.objectContaining({ productId: 'A', requested: 3n, available: 2n }),
      expect.objectContaining({ productId: 'C', requested: 7n, available: 0n }),
    ]);
    // Nothing is half done: B was not reserved, no reservation row, no movement.
    expect((await item(rpc, 'B')).reserved).toBe('0');
    expect(await rawQuery('select 1 from inventory_reservations where tenant_id = $1', [name])).toHaveLength(0);
    expect(await movementCount(name)).toBe(before);
  });

  test('release or commit beyond what the reference holds is refused with RESERVATION_EXCEEDED and changes nothing', async () => {
    const { rpc, name } = await tenant();
    await stocked(rpc, 'A', 10);
    await stocked(rpc, 'B', 10);
    await rpc('Reserve', { items: [{ productId: 'A', quantity: 4 }], reference: 'O-1' });
    await rpc('Reserve', { items: [{ productId: 'A', quantity: 5 }], reference: 'O-2' });
    const before = await movementCount(name);

    const commit = await expectError(rpc('CommitOutbound', { items: [{ productId: 'A', quantity: 5 }], reference: 'O-1' }), DETAIL_SCHEMAS);
    expect(commit.code).toBe(FAILED_PRECONDITION);
    expect(commit.errorInfos).toHaveLength(1);
    expect(commit.errorInfo).toMatchObject({ reason: 'RESERVATION_EXCEEDED', domain: DOMAIN, metadata: expect.objectContaining({ productId: 'A', requested: '5', held: '4' }) });
    expect(commit.details.find((d) => d.typeName === 'stockroom.inventory.v1.ReservationExceededDetail')?.value).toMatchObject({
      reference: 'O-1',
      lines: [{ productId: 'A', requested: 5n, held: 4n }],
    });
    // A product the reference never reserved: held 0.
    const release = await expectError(rpc('Release', { items: [{ productId: 'A', quantity: 1 }, { productId: 'B', quantity: 1 }], reference: 'O-1' }));
    expect(release.errorInfo).toMatchObject({ reason: 'RESERVATION_EXCEEDED', metadata: expect.objectContaining({ productId: 'B', held: '0' }) });

    expect(await item(rpc, 'A')).toMatchObject({ onHand: '10', reserved: '9' });
    expect(await movementCount(name)).toBe(before);
    const lines = (await rpc('GetReservation', { reference: 'O-1' })).reservation.lines;
    expect(lines).toEqual([expect.objectContaining({ productId: 'A', held: '4', committed: '0', released: '0' })]);
  });

  test('an idempotent retry of Reserve and CommitOutbound returns the first answer and moves nothing', async () => {
    const { rpc, name } = await tenant();
    await stocked(rpc, 'A', 10);
    const reserve = { items: [{ productId: 'A', quantity: 4 }], reference: 'O-1', idempotencyKey: 'reserve-O-1' };
    const first = await rpc('Reserve', reserve);
    const retry = await rpc('Reserve', reserve);
    expect(retry).toEqual(first);
    expect(await item(rpc, 'A')).toMatchObject({ reserved: '4' });

    const commit = { items: [{ productId: 'A', quantity: 3 }], reference: 'O-1', idempotencyKey: 'commit-O-1-part-1' };
    const shipped = await rpc('CommitOutbound', commit);
    const movements = await movementCount(name);
    const again = await rpc('CommitOutbound', commit);
    expect(again).toEqual(shipped);
    expect(await movementCount(name)).toBe(movements);
    expect(await item(rpc, 'A')).toMatchObject({ onHand: '7', reserved: '1' });

    // The same key with a different request is refused; nothing changes.
    const reused = await expectError(rpc('CommitOutbound', { ...commit, items: [{ productId: 'A', quantity: 1 }] }));
    expect(reused.code).toBe(FAILED_PRECONDITION);
    expect(reused.errorInfo).toMatchObject({ reason: 'IDEMPOTENCY_KEY_REUSED', domain: DOMAIN });
    expect(await item(rpc, 'A')).toMatchObject({ onHand: '7', reserved: '1' });
    // Keys are per method: the Reserve key means nothing to Release.
    await rpc('Release', { items: [], reference: 'O-1', idempotencyKey: 'reserve-O-1' });
    expect(await item(rpc, 'A')).toMatchObject({ onHand: '7', reserved: '0' });
  });
});

describe('stock changes', () => {
  test('inbound, adjust, return and damage each write one movement and never go below reserved', async () => {
    const { rpc, name } = await tenant();
    await rpc('CreateItem', { productId: 'A', sku: '', name: 'A', reorderPoint: 0 });
    const inbound = await rpc('RecordInbound', { productId: 'A', quantity: 10, reference: 'PO-7', notes: 'dock 2' });
    expect(inbound.item).toMatchObject({ onHand: '10', available: '10' });
    expect(inbound.movement).toMatchObject({ type: 'MOVEMENT_TYPE_INBOUND', quantity: '10', onHandAfter: '10', reference: 'PO-7', notes: 'dock 2', createdBy: 'alice' });
    const adjust = await rpc('AdjustInventory', { productId: 'A', quantityDelta: -3, reason: 'cycle count' });
    expect(adjust.movement).toMatchObject({ type: 'MOVEMENT_TYPE_ADJUST', quantity: '-3', onHandAfter: '7', notes: 'cycle count' });
    const returned = await rpc('RecordReturn', { productId: 'A', quantity: 2, reference: 'RMA-1' });
    expect(returned.movement).toMatchObject({ type: 'MOVEMENT_TYPE_RETURN_IN', quantity: '2', onHandAfter: '9' });
    await rpc('Reserve', { items: [{ productId: 'A', quantity: 6 }], reference: 'O-1' });
    const damaged = await rpc('RecordDamage', { productId: 'A', quantity: 3, notes: 'crushed' });
    expect(damaged.movement).toMatchObject({ type: 'MOVEMENT_TYPE_DAMAGED', quantity: '-3', onHandAfter: '6' });
    expect(damaged.item).toMatchObject({ onHand: '6', reserved: '6', available: '0' });
    const before = await movementCount(name);

    // Units promised to orders cannot be written off or adjusted away.
    for (const request of [rpc('RecordDamage', { productId: 'A', quantity: 1 }), rpc('AdjustInventory', { productId: 'A', quantityDelta: -1, reason: 'x' })]) {
      const error = await expectError(request, DETAIL_SCHEMAS);
      expect(error.code).toBe(FAILED_PRECONDITION);
      expect(error.errorInfo?.reason).toBe('INSUFFICIENT_STOCK');
      expect(error.details.find((d) => d.typeName === 'stockroom.inventory.v1.InsufficientStockDetail')?.value).toMatchObject({
        shortages: [{ productId: 'A', requested: 1n, available: 0n }],
      });
    }
    expect(await movementCount(name)).toBe(before);
    expect(await item(rpc, 'A')).toMatchObject({ onHand: '6', reserved: '6' });
  });
});

describe('input limits', () => {
  test('bad input is INVALID_ARGUMENT with every bad field named', async () => {
    const { rpc } = await tenant();
    await stocked(rpc, 'A', 5);
    const expectFields = async (method: string, request: object, fields: string[]) => {
      const error = await expectError(rpc(method, request));
      expect(error.code).toBe(INVALID_ARGUMENT);
      expect(error.errorInfos).toHaveLength(1);
      expect(error.errorInfo?.domain).toBe(DOMAIN);
      expect(error.badRequest?.fieldViolations.map((v) => v.field)).toEqual(fields);
    };
    await expectFields('Reserve', { items: [{ productId: 'A', quantity: 0 }], reference: '' }, ['items[0].quantity', 'reference']);
    await expectFields('Reserve', { items: [{ productId: 'A', quantity: -2 }], reference: 'O' }, ['items[0].quantity']);
    await expectFields('Reserve', { items: [], reference: 'O' }, ['items']);
    const too_many = Array.from({ length: 101 }, () => ({ productId: 'A', quantity: 1 }));
    await expectFields('Reserve', { items: too_many, reference: 'O' }, ['items']);
    await expectFields('CommitOutbound', { items: [{ productId: '', quantity: 1 }], reference: 'x'.repeat(129) }, ['items[0].product_id', 'reference']);
    await expectFields('CheckAvailability', { items: [{ productId: 'A', quantity: '1000000000001' }] }, ['items[0].quantity']);
    await expectFields('CreateItem', { productId: 'p'.repeat(129), sku: 's'.repeat(65), name: '', reorderPoint: -1 }, ['product_id', 'sku', 'name', 'reorder_point']);
    await expectFields('CreateItem', { productId: 'bad\u0000id', name: 'n' }, ['product_id']);
    await expectFields('RecordInbound', { productId: 'A', quantity: 1, notes: 'n'.repeat(1001) }, ['notes']);
    await expectFields('AdjustInventory', { productId: 'A', quantityDelta: 0, reason: '' }, ['quantity_delta', 'reason']);
    await expectFields('ListMovements', { type: 99 }, ['type']);
    await expectFields('ListMovements', { itemId: 'not-a-uuid', pageSize: -1 }, ['page_size', 'item_id']);
    await expectFields('ListItems', { productIds: Array.from({ length: 101 }, (_, i) => `P${i}`) }, ['product_ids']);
    await expectFields('ListItems', { pageToken: 'garbage' }, ['page_token']);
    await expectFields('Reserve', { items: [{ productId: 'A', quantity: 1 }], reference: 'O', idempotencyKey: 'has space' }, ['idempotency_key']);
    // Nothing was reserved by any of them.
    expect((await item(rpc, 'A')).reserved).toBe('0');
  });

  test('a viewer may read but not reserve (PERMISSION_DENIED before the handler runs)', async () => {
    const admin = await tenant();
    await stocked(admin.rpc, 'A', 5);
    const viewer = await stockroom.token({ tenant: admin.name, roles: ['viewer'], sub: 'val' });
    expect((await admin.rpc('GetItem', { productId: 'A' }, viewer)).item.onHand).toBe('5');
    const denied = await expectError(admin.rpc('Reserve', { items: [{ productId: 'A', quantity: 1 }], reference: 'O' }, viewer));
    expect(denied.code).toBe(PERMISSION_DENIED);
    const operator = await stockroom.token({ tenant: admin.name, roles: ['operator'], sub: 'otto' });
    const create = await expectError(admin.rpc('CreateItem', { productId: 'B', name: 'B' }, operator));
    expect(create.code).toBe(PERMISSION_DENIED);
  });
});

describe('ledger', () => {
  test('ListMovements is newest first, paged, and filters by item, product, type, reference and time', async () => {
    const { rpc } = await tenant();
    await stocked(rpc, 'A', 0);
    await stocked(rpc, 'B', 0);
    const a = await item(rpc, 'A');
    const written: { id: string; productId: string; type: string; reference: string }[] = [];
    const record = async (method: string, request: object) => written.push((await rpc(method, request)).movement);
    await record('RecordInbound', { productId: 'A', quantity: 10, reference: 'PO-1' });
    await record('RecordInbound', { productId: 'B', quantity: 5, reference: 'PO-1' });
    await record('RecordDamage', { productId: 'A', quantity: 1, reference: 'INC-1' });
    const middle = new Date();
    await sleep(20);
    await record('RecordReturn', { productId: 'B', quantity: 2, reference: 'RMA-1' });
    await record('AdjustInventory', { productId: 'A', quantityDelta: 4, reason: 'found' });

    const all: typeof written = [];
    let token = '';
    let pages = 0;
    do {
      const page = await rpc('ListMovements', { pageSize: 2, pageToken: token });
      expect(page.movements.length).toBeLessThanOrEqual(2);
      all.push(...page.movements);
      token = page.nextPageToken;
      pages++;
    } while (token !== '');
    expect(pages).toBe(3);
    expect(all.map((m) => m.id)).toEqual(written.map((m) => m.id).reverse());

    const ids = async (filter: object) => (await rpc('ListMovements', filter)).movements.map((m: { id: string }) => m.id);
    const idsOf = (predicate: (m: (typeof written)[number]) => boolean) => written.filter(predicate).map((m) => m.id).reverse();
    expect(await ids({ productId: 'A' })).toEqual(idsOf((m) => m.productId === 'A'));
    expect(await ids({ itemId: a.id })).toEqual(idsOf((m) => m.productId === 'A'));
    expect(await ids({ type: 'MOVEMENT_TYPE_INBOUND' })).toEqual(idsOf((m) => m.type === 'MOVEMENT_TYPE_INBOUND'));
    expect(await ids({ reference: 'PO-1' })).toEqual(idsOf((m) => m.reference === 'PO-1'));
    const seconds = Math.floor(middle.getTime() / 1000);
    const nanos = (middle.getTime() % 1000) * 1_000_000;
    expect(await ids({ startTime: { seconds, nanos } })).toEqual(written.slice(3).map((m) => m.id).reverse());
    expect(await ids({ endTime: { seconds, nanos } })).toEqual(written.slice(0, 3).map((m) => m.id).reverse());
    expect(await ids({ productId: 'A', type: 'MOVEMENT_TYPE_DAMAGED', reference: 'INC-1' })).toEqual([written[2].id]);

    // A token only works with the filters it was made for.
    const first = await rpc('ListMovements', { pageSize: 1, productId: 'A' });
    const mismatch = await expectError(rpc('ListMovements', { pageSize: 1, productId: 'B', pageToken: first.nextPageToken }));
    expect(mismatch.code).toBe(INVALID_ARGUMENT);
  });

  test('the database refuses UPDATE and DELETE on the movements table, for the service role and the owner', async () => {
    const { rpc, name } = await tenant();
    await stocked(rpc, 'A', 3);
    const as_app = { as_app_role: true, tenant: name };
    await expect(rawQuery('update inventory_movements set quantity = 100 where tenant_id = $1', [name], as_app)).rejects.toThrow(/permission denied/);
    await expect(rawQuery('delete from inventory_movements where tenant_id = $1', [name], as_app)).rejects.toThrow(/permission denied/);
    // Even a role with the privilege (the owner, here the superuser) hits the append-only trigger.
    await expect(rawQuery('update inventory_movements set quantity = 100 where tenant_id = $1', [name])).rejects.toThrow(/append-only/);
    await expect(rawQuery('delete from inventory_movements where tenant_id = $1', [name])).rejects.toThrow(/append-only/);
    const [row] = await rawQuery<{ quantity: string }>('select quantity from inventory_movements where tenant_id = $1', [name]);
    expect(row.quantity).toBe('3');
  });

  test('CHECK constraints refuse negative or oversold balances even when SQL bypasses the service', async () => {
    const { rpc, name } = await tenant();
    await stocked(rpc, 'A', 3);
    const as_app = { as_app_role: true, tenant: name };
    // The service's role cannot write balances at all (test/database-truth.test.ts); the owner hits the CHECKs.
    await expect(rawQuery('update inventory_items set reserved = on_hand + 1 where tenant_id = $1', [name], as_app)).rejects.toThrow(/permission denied/);
    await expect(rawQuery('update inventory_items set reserved = on_hand + 1 where tenant_id = $1', [name])).rejects.toThrow(/inventory_items_reserved_within_on_hand/);
    await expect(rawQuery('update inventory_items set on_hand = -1, reserved = 0 where tenant_id = $1', [name])).rejects.toThrow(/inventory_items_on_hand_non_negative/);
    await expect(rawQuery('update inventory_items set reserved = -1 where tenant_id = $1', [name])).rejects.toThrow(/inventory_items_reserved_non_negative/);
    await rpc('Reserve', { items: [{ productId: 'A', quantity: 2 }], reference: 'O-1' });
    await expect(rawQuery('update inventory_reservations set held = -1 where tenant_id = $1', [name], as_app)).rejects.toThrow(/inventory_reservations_held_non_negative/);
    expect(await item(rpc, 'A')).toMatchObject({ onHand: '3', reserved: '2' });
  });
});
