/**
 * The transactional outbox and ListEvents (issue 12): every change of both
 * services writes its event in its own transaction, with the quantities
 * after it, its movement ids and its caller; positions follow commit order,
 * so a transaction that commits late is never skipped by a reader that
 * already passed its start.
 */
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { connectionConfig } from '../src/db/session.js';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { ServerReflection } from '../gen/grpc/reflection/v1/reflection_pb.js';
import { call, expectError, startStockroom, testDatabaseUrl, testRuntimeRole, uniqueTenant, type TestStockroom } from './support/harness.js';
import { eventually } from './support/wait.js';

const INVENTORY = 'stockroom.inventory.v1.InventoryService';
const PARTS = 'stockroom.parts.v1.PartsService';
const EVENTS = 'stockroom.events.v1.EventService';

let stockroom: TestStockroom;
let clients: Record<string, grpc.Client>;

beforeAll(async () => {
  stockroom = await startStockroom();
  clients = { inventory: stockroom.grpcClient(INVENTORY), parts: stockroom.grpcClient(PARTS), events: stockroom.grpcClient(EVENTS) };
});

afterAll(async () => {
  await stockroom.close();
});

async function tenant(sub = 'alice', roles: ('viewer' | 'operator' | 'admin')[] = ['admin']) {
  const name = uniqueTenant('events');
  const token = await stockroom.token({ tenant: name, roles, sub });
  return {
    name,
    token,
    inventory: (method: string, request: object) => call(clients.inventory, method, request, token),
    parts: (method: string, request: object) => call(clients.parts, method, request, token),
    events: (method: string, request: object) => call(clients.events, method, request, token),
  };
}

/**
 * Every event of the tenant, once at least `expected` are visible: an event
 * becomes visible when every transaction that started before it has ended,
 * and other test files write to the same database meanwhile.
 */
async function allEvents(t: { events: (method: string, request: object) => Promise<any> }, request: object = {}, expected = 1): Promise<any[]> {
  return eventually(() => listOnce(t, request), (events) => events.length >= expected);
}

async function listOnce(t: { events: (method: string, request: object) => Promise<any> }, request: object): Promise<any[]> {
  const events: any[] = [];
  let page_token = '';
  do {
    const page = await t.events('ListEvents', { ...request, pageSize: 3, pageToken: page_token });
    events.push(...page.events);
    page_token = page.nextPageToken;
  } while (page_token !== '');
  return events;
}

describe('outbox', () => {
  test('every inventory change writes one event with quantities after, movement ids and caller', async () => {
    const t = await tenant('alice');
    await t.inventory('CreateItem', { productId: 'A', sku: 'A', name: 'Widget', reorderPoint: 0 });
    const inbound = await t.inventory('RecordInbound', { productId: 'A', quantity: 10, reference: 'PO-1' });
    await t.inventory('Reserve', { items: [{ productId: 'A', quantity: 4 }], reference: 'O-1' });
    const shipped = await t.inventory('CommitOutbound', { items: [{ productId: 'A', quantity: 3 }], reference: 'O-1' });
    await t.inventory('Release', { items: [], reference: 'O-1' });
    await t.inventory('AdjustInventory', { productId: 'A', quantityDelta: -2, reason: 'recount' });
    await t.inventory('UpdateItem', { item: { productId: 'A', name: 'Widget 2' }, updateMask: { paths: ['name'] } }).catch(() => undefined);

    const events = await allEvents(t, {}, 8);
    const types = events.map((event) => event.type.replace('EVENT_TYPE_', ''));
    expect(types.slice(0, 7)).toEqual([
      'ITEM_CREATED', 'BACK_IN_STOCK', 'STOCK_RECEIVED', 'RESERVATION_CREATED', 'RESERVATION_COMMITTED', 'RESERVATION_RELEASED', 'STOCK_ADJUSTED',
    ]);
    const received = events[2];
    expect(received).toMatchObject({ tenantId: t.name, productId: 'A', quantity: '10', onHand: '10', reserved: '0', available: '10', caller: 'alice', reference: 'PO-1' });
    expect(received.movementIds).toEqual([inbound.movement.id]);
    expect(events[3]).toMatchObject({ quantity: '4', onHand: '10', reserved: '4', available: '6', reference: 'O-1' });
    expect(events[4]).toMatchObject({ quantity: '-3', onHand: '7', reserved: '1', movementIds: [shipped.movements[0].id] });
    expect(events[5]).toMatchObject({ quantity: '1', onHand: '7', reserved: '0' });
    expect(events[6]).toMatchObject({ quantity: '-2', onHand: '5' });
    // Positions strictly grow; ids are unique UUIDs.
    for (let index = 1; index < events.length; index++) expect(events[index].position).not.toBe(events[index - 1].position);
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
    expect(events[0].createTime).toBeDefined();
  });

  test('parts: one event per operation and place, with every movement id of its layers', async () => {
    const t = await tenant('bob');
    const { part } = await t.parts('CreatePart', { part: { partNumber: 'BRG-1', name: 'Bearing' } });
    const { location: a } = await t.parts('CreateLocation', { location: { site: 'MAIN', name: 'A' } });
    const { location: b } = await t.parts('CreateLocation', { location: { site: 'MAIN', name: 'B' } });
    await t.parts('ReceiveParts', { partId: part.id, locationId: a.id, qty: '2', unitCost: '1.00' });
    await t.parts('ReceiveParts', { partId: part.id, locationId: a.id, qty: '3', unitCost: '2.00' });
    await t.parts('IssueToWorkOrder', { workOrderId: 'WO-1', partId: part.id, locationId: a.id, qty: '4' });
    await t.parts('TransferBetweenLocations', { partId: part.id, fromLocationId: a.id, toLocationId: b.id, qty: '1' });

    const events = await allEvents(t, { partIds: [part.id] }, 7);
    const types = events.map((event) => event.type.replace('EVENT_TYPE_', ''));
    // A place's first receipt creates its balance: nothing was "back" in stock there.
    expect(types).toEqual([
      'PART_CREATED', 'PARTS_RECEIVED', 'PARTS_RECEIVED', 'PARTS_ISSUED', 'OUT_OF_STOCK', 'PARTS_TRANSFERRED_OUT', 'PARTS_TRANSFERRED_IN',
    ]);
    const issued = events.find((event) => event.type === 'EVENT_TYPE_PARTS_ISSUED');
    expect(issued).toMatchObject({ partId: part.id, locationId: a.id, reference: 'WO-1', quantity: '-4.000', onHand: '1.000', caller: 'bob' });
    expect(issued.movementIds).toHaveLength(2);
    const moved_in = events.find((event) => event.type === 'EVENT_TYPE_PARTS_TRANSFERRED_IN');
    expect(moved_in).toMatchObject({ locationId: b.id, quantity: '1.000', onHand: '1.000' });
    const out_of_stock = events.find((event) => event.type === 'EVENT_TYPE_OUT_OF_STOCK');
    expect(out_of_stock).toMatchObject({ locationId: a.id, onHand: '0.000' });
  });

  test('a tenant sees only its own events; filters by type and product', async () => {
    const t1 = await tenant();
    const t2 = await tenant();
    await t1.inventory('CreateItem', { productId: 'A', name: 'A', reorderPoint: 0 });
    await t1.inventory('CreateItem', { productId: 'B', name: 'B', reorderPoint: 0 });
    await t1.inventory('RecordInbound', { productId: 'B', quantity: 1 });
    const only_b = await allEvents(t1, { productIds: ['B'] }, 3);
    expect(await listOnce(t2, {})).toEqual([]);
    expect(only_b.map((event) => event.productId)).toEqual(['B', 'B', 'B']);
    const created = await allEvents(t1, { types: ['EVENT_TYPE_ITEM_CREATED'] }, 2);
    expect(created.map((event) => event.productId)).toEqual(['A', 'B']);
  });

  test('refuses a bad position or page token, and callers without a role', async () => {
    const t = await tenant();
    const bad = await expectError(t.events('ListEvents', { afterPosition: 'yesterday' }));
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.errorInfo?.reason).toBe('INVALID_POSITION');
    const token = await expectError(t.events('ListEvents', { pageToken: 'nope' }));
    expect(token.code).toBe(grpc.status.INVALID_ARGUMENT);
    const anonymous = await expectError(call(clients.events, 'ListEvents', {}));
    expect(anonymous.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  test('a transaction that commits late sorts after what a reader already saw, never skipped', async () => {
    const t = await tenant();
    await t.inventory('CreateItem', { productId: 'EARLY', name: 'Early', reorderPoint: 0 });
    await t.inventory('CreateItem', { productId: 'LATE', name: 'Late', reorderPoint: 0 });
    await allEvents(t, {}, 2);
    const before = await t.events('ListEvents', {});
    expect(before.events).toHaveLength(2);
    // A writer that takes its transaction id now and commits last.
    const slow = new pg.Client(connectionConfig(testDatabaseUrl()));
    await slow.connect();
    try {
      await slow.query('begin');
      await slow.query(`set local role ${pg.escapeIdentifier(testRuntimeRole())}`);
      await slow.query(`set local stockroom.tenant_id = ${pg.escapeLiteral(t.name)}; set local stockroom.caller = 'slow'`);
      await slow.query(`update inventory_items set reorder_point = 7 where product_id = 'LATE'`);
      await t.inventory('RecordInbound', { productId: 'EARLY', quantity: 5 });
      // The inbound has committed, but an event before it (the open writer's) may still come: not listed yet.
      const meanwhile = await t.events('ListEvents', { afterPosition: before.lastPosition });
      expect(meanwhile.events).toEqual([]);
      await slow.query('commit');
    } finally {
      await slow.end();
    }
    const after = { events: await allEvents(t, { afterPosition: before.lastPosition }, 3) };
    expect(after.events.map((event: any) => [event.type.replace('EVENT_TYPE_', ''), event.productId])).toEqual([
      ['ITEM_UPDATED', 'LATE'],
      ['BACK_IN_STOCK', 'EARLY'],
      ['STOCK_RECEIVED', 'EARLY'],
    ]);
    expect(after.events[0].caller).toBe('slow');
  });

  test('a hold that expires writes RESERVATION_EXPIRED (the sweeper moves held to expired)', async () => {
    const t = await tenant('carol');
    await t.inventory('CreateItem', { productId: 'LAMP', name: 'Lamp', reorderPoint: 0 });
    await t.inventory('RecordInbound', { productId: 'LAMP', quantity: 3 });
    await t.inventory('Reserve', { items: [{ productId: 'LAMP', quantity: 2 }], reference: 'CART-1', ttl: { seconds: '0', nanos: 200_000_000 } });
    const expired = await allEvents(t, { types: ['EVENT_TYPE_RESERVATION_EXPIRED'] }, 1);
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({ productId: 'LAMP', reference: 'CART-1', quantity: '2', onHand: '3', reserved: '0', available: '3' });
  });

  test('EventService is served with health and listed by reflection like the other services', async () => {
    const health = stockroom.grpcClient('grpc.health.v1.Health');
    expect((await call(health, 'Check', { service: 'stockroom.events.v1.EventService' })).status).toBe('SERVING');
    const reflection = createClient(ServerReflection, createGrpcTransport({ baseUrl: stockroom.url }));
    async function* request() {
      yield { messageRequest: { case: 'listServices' as const, value: '*' } };
    }
    for await (const response of reflection.serverReflectionInfo(request())) {
      if (response.messageResponse.case !== 'listServicesResponse') throw new Error(response.messageResponse.case);
      expect(response.messageResponse.value.service.map((service) => service.name)).toContain('stockroom.events.v1.EventService');
      break;
    }
  });
});
