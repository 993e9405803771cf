/**
 * Low-stock alerts (issue 12): LOW_STOCK once when available falls to or
 * below the reorder point (however many Reserves race across it),
 * OUT_OF_STOCK at zero, BACK_IN_STOCK on the inbound that lifts it; the same
 * for parts with a reorder point per part and location (SetReorderPoint).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { call, expectError, startStockroom, uniqueTenant, type TestStockroom } from './support/harness.js';
import { eventually } from './support/wait.js';

const INVENTORY = 'stockroom.inventory.v1.InventoryService';
const PARTS = 'stockroom.parts.v1.PartsService';
const EVENTS = 'stockroom.events.v1.EventService';
const ALERTS = ['EVENT_TYPE_LOW_STOCK', 'EVENT_TYPE_OUT_OF_STOCK', 'EVENT_TYPE_BACK_IN_STOCK'];
const CHANNELS = 8;

let stockroom: TestStockroom;
let writers: grpc.Client[];
let parts_client: grpc.Client;
let events_client: grpc.Client;

beforeAll(async () => {
  stockroom = await startStockroom({ STOCKROOM_EVENTS_POLL_MS: '20', STOCKROOM_EVENTS_HEARTBEAT_MS: '150' });
  writers = Array.from({ length: CHANNELS }, (_, index) => stockroom.grpcClient(INVENTORY, { 'grpc.primary_user_agent': `alerts-${index}` }));
  parts_client = stockroom.grpcClient(PARTS);
  events_client = stockroom.grpcClient(EVENTS);
});

afterAll(async () => {
  await stockroom.close();
});

/** The alerts of the tenant, once at least `expected` are visible (other test files' transactions may delay them). */
async function alerts(token: string, request: object = {}, expected = 1): Promise<any[]> {
  const page = await eventually(() => call(events_client, 'ListEvents', { ...request, types: ALERTS, pageSize: 1000 }, token), (p) => p.events.length >= expected);
  return page.events;
}

/** The position after the tenant's first `count` events, once they are visible. */
async function settledPosition(token: string, count: number): Promise<string> {
  const page = await eventually(() => call(events_client, 'ListEvents', { pageSize: 1000 }, token), (p) => p.events.length >= count);
  return page.lastPosition;
}

test('LOW_STOCK fires once when concurrent Reserves cross the reorder point; BACK_IN_STOCK on the inbound that lifts it', async () => {
  const tenant = uniqueTenant('alerts');
  const token = await stockroom.token({ tenant, roles: ['admin'] });
  await call(writers[0], 'CreateItem', { productId: 'HOT', name: 'Hot item', reorderPoint: 20 }, token);
  await call(writers[0], 'RecordInbound', { productId: 'HOT', quantity: 100 }, token);
  const start = await settledPosition(token, 3); // ITEM_CREATED, BACK_IN_STOCK, STOCK_RECEIVED

  // A watcher of alerts only, started before the sale.
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const watched: any[] = [];
  const stream = (events_client as any).watchEvents({ afterPosition: start, types: ALERTS }, metadata) as grpc.ClientReadableStream<any>;
  stream.on('data', (message: any) => message.event && watched.push(message.event));
  stream.on('error', () => undefined);

  // 100 Reserves of 1 unit from 8 channels at once: available 100 -> 0.
  await Promise.all(Array.from({ length: 100 }, (_, index) =>
    call(writers[index % CHANNELS], 'Reserve', { items: [{ productId: 'HOT', quantity: 1 }], reference: `O-${index}` }, token)));
  const sold = await alerts(token, { afterPosition: start }, 2);
  expect(sold.map((event) => event.type)).toEqual(['EVENT_TYPE_LOW_STOCK', 'EVENT_TYPE_OUT_OF_STOCK']);
  expect(sold[0]).toMatchObject({ productId: 'HOT', available: '20', onHand: '100', reserved: '80', reorderPoint: '20' });
  expect(sold[1]).toMatchObject({ available: '0', reserved: '100' });

  // Releasing 5 leaves available at 5, still low: no alert. The inbound of 30 lifts it above 20.
  for (const index of [0, 1, 2, 3, 4]) await call(writers[0], 'Release', { items: [], reference: `O-${index}` }, token);
  await call(writers[0], 'RecordInbound', { productId: 'HOT', quantity: 30 }, token);
  await call(writers[0], 'RecordInbound', { productId: 'HOT', quantity: 30 }, token);
  const all = await alerts(token, { afterPosition: start }, 3);
  expect(all.map((event) => event.type)).toEqual(['EVENT_TYPE_LOW_STOCK', 'EVENT_TYPE_OUT_OF_STOCK', 'EVENT_TYPE_BACK_IN_STOCK']);
  expect(all[2]).toMatchObject({ available: '35', onHand: '130', reserved: '95' });

  await eventually(() => watched.length, (n) => n >= 3, { timeout_ms: 5_000, interval_ms: 20 });
  stream.cancel();
  expect(watched.map((event) => event.id)).toEqual(all.map((event) => event.id));
});

test('parts: a reorder point per part and location, with the same three alerts', async () => {
  const tenant = uniqueTenant('alerts-parts');
  const token = await stockroom.token({ tenant, roles: ['admin'] });
  const parts = (method: string, request: object) => call(parts_client, method, request, token);
  const { part } = await parts('CreatePart', { part: { partNumber: 'FLT-1', name: 'Filter' } });
  const { location: a } = await parts('CreateLocation', { location: { site: 'MAIN', name: 'A' } });
  const { location: b } = await parts('CreateLocation', { location: { site: 'MAIN', name: 'B' } });
  const set = await parts('SetReorderPoint', { partId: part.id, locationId: a.id, reorderPoint: '4' });
  expect(set).toMatchObject({ reorderPoint: '4.000', qtyOnHand: '0.000' });
  await parts('ReceiveParts', { partId: part.id, locationId: a.id, qty: '10', unitCost: '2.50' });
  await parts('ReceiveParts', { partId: part.id, locationId: b.id, qty: '1', unitCost: '2.50' });
  await parts('IssueToWorkOrder', { workOrderId: 'WO-1', partId: part.id, locationId: a.id, qty: '5' });
  await parts('IssueToWorkOrder', { workOrderId: 'WO-1', partId: part.id, locationId: a.id, qty: '1.5' });
  await parts('IssueToWorkOrder', { workOrderId: 'WO-2', partId: part.id, locationId: a.id, qty: '0.5' });
  await parts('IssueToWorkOrder', { workOrderId: 'WO-2', partId: part.id, locationId: a.id, qty: '3' });
  await parts('ReceiveParts', { partId: part.id, locationId: a.id, qty: '6', unitCost: '2.50' });
  const fired = await alerts(token, { partIds: [part.id] }, 4);
  // The place existed at zero (SetReorderPoint made its balance): the first receipt brings it back.
  expect(fired.map((event) => [event.type, event.locationId, event.onHand])).toEqual([
    ['EVENT_TYPE_BACK_IN_STOCK', a.id, '10.000'],
    ['EVENT_TYPE_LOW_STOCK', a.id, '3.500'],
    ['EVENT_TYPE_OUT_OF_STOCK', a.id, '0.000'],
    ['EVENT_TYPE_BACK_IN_STOCK', a.id, '6.000'],
  ]);
  expect(fired[1]).toMatchObject({ partId: part.id, reorderPoint: '4.000', available: '3.500' });

  // Cleared: falling below 4 again says nothing until zero.
  expect(await parts('SetReorderPoint', { partId: part.id, locationId: a.id, reorderPoint: '' })).toMatchObject({ reorderPoint: '', qtyOnHand: '6.000' });
  await parts('IssueToWorkOrder', { workOrderId: 'WO-3', partId: part.id, locationId: a.id, qty: '5' });
  await sleep(500);
  expect(await alerts(token, { partIds: [part.id] }, 4)).toHaveLength(4);

  const unknown = await expectError(parts('SetReorderPoint', { partId: '00000000-0000-4000-8000-000000000000', locationId: a.id, reorderPoint: '1' }));
  expect(unknown.code).toBe(grpc.status.NOT_FOUND);
  const negative = await expectError(parts('SetReorderPoint', { partId: part.id, locationId: a.id, reorderPoint: '-1' }));
  expect(negative.code).toBe(grpc.status.INVALID_ARGUMENT);
  const viewer = await stockroom.token({ tenant, roles: ['operator'] });
  const refused = await expectError(call(parts_client, 'SetReorderPoint', { partId: part.id, locationId: a.id, reorderPoint: '1' }, viewer));
  expect(refused.code).toBe(grpc.status.PERMISSION_DENIED);
});

test('work-order holds of parts write reservation events with the part and location as subject, and their alerts', async () => {
  const tenant = uniqueTenant('alerts-holds');
  const token = await stockroom.token({ tenant, roles: ['admin'] });
  const parts = (method: string, request: object) => call(parts_client, method, request, token);
  const { part } = await parts('CreatePart', { part: { partNumber: 'BLT-1', name: 'Belt' } });
  const { location: a } = await parts('CreateLocation', { location: { site: 'MAIN', name: 'A' } });
  await parts('SetReorderPoint', { partId: part.id, locationId: a.id, reorderPoint: '2' });
  await parts('ReceiveParts', { partId: part.id, locationId: a.id, qty: '5', unitCost: '1.00' });
  await parts('ReservePartsForWorkOrder', { workOrderId: 'WO-9', partId: part.id, locationId: a.id, qty: '4' });
  await parts('ReleaseWorkOrderReservation', { workOrderId: 'WO-9', partId: part.id, locationId: a.id, qty: '2' });
  // Takes the 2 still held, then 1 free unit.
  await parts('IssueToWorkOrder', { workOrderId: 'WO-9', partId: part.id, locationId: a.id, qty: '3' });
  const { events }: { events: any[] } = await eventually(() => call(events_client, 'ListEvents', { partIds: [part.id], pageSize: 100 }, token), (p) => p.events.length >= 10);
  expect(events.map((event) => event.type.replace('EVENT_TYPE_', ''))).toEqual([
    // An alert a change raises comes just before the change's own event, in the same transaction.
    'PART_CREATED', 'BACK_IN_STOCK', 'PARTS_RECEIVED', 'LOW_STOCK', 'RESERVATION_CREATED', 'BACK_IN_STOCK', 'RESERVATION_RELEASED',
    // The issue takes the work order's hold first (committed), then its stock falls to the reorder point.
    'RESERVATION_COMMITTED', 'LOW_STOCK', 'PARTS_ISSUED',
  ]);
  expect(events[4]).toMatchObject({ reference: 'WO-9', quantity: '4.000', onHand: '5.000', reserved: '4.000', available: '1.000', locationId: a.id });
  expect(events[6]).toMatchObject({ reference: 'WO-9', quantity: '2.000', reserved: '2.000', available: '3.000' });
  expect(events[7]).toMatchObject({ reference: 'WO-9', quantity: '-2.000', reserved: '0.000', locationId: a.id });
  expect(events[9]).toMatchObject({ reference: 'WO-9', quantity: '-3.000', onHand: '2.000', reserved: '0.000', available: '2.000' });
});
