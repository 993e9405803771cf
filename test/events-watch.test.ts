/**
 * WatchEvents (issue 12): 1,000 concurrent writes from many clients, one
 * subscriber that started before them and one that reconnects three times
 * from its last position; both get every event exactly once, in position
 * order, agreeing with ListEvents and the ledger. Plus heartbeats, the slow
 * client bound, and the same stream over Connect (HTTP/1.1) and gRPC-Web
 * from a fetch-based (browser-like) client.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-web';
import * as grpc from '@grpc/grpc-js';
import { ErrorInfoSchema } from '../gen/google/rpc/error_details_pb.js';
import { EventService } from '../gen/stockroom/events/v1/events_service_pb.js';
import { call, rawQuery, startStockroom, uniqueTenant, type TestStockroom } from './support/harness.js';
import { eventually, until } from './support/wait.js';

const INVENTORY = 'stockroom.inventory.v1.InventoryService';
const EVENTS = 'stockroom.events.v1.EventService';
const CHANNELS = 8;

let stockroom: TestStockroom;
let writers: grpc.Client[];
let events_client: grpc.Client;

// connect-node reports a response it could not write with console.error, a
// bare line in a JSON log; the server logs it through pino instead (a client
// that left mid-stream at debug). Clients leave mid-stream in this file.
const console_errors: unknown[][] = [];
const console_error = console.error;

beforeAll(async () => {
  console.error = (...args: unknown[]) => void console_errors.push(args);
  stockroom = await startStockroom({
    STOCKROOM_EVENTS_POLL_MS: '20',
    STOCKROOM_EVENTS_HEARTBEAT_MS: '150',
    STOCKROOM_EVENTS_STREAM_BUFFER: '50',
    STOCKROOM_EVENTS_SLOW_CLIENT_MS: '400',
    // All 1,000 writes are in flight at once (the default admission cap is 500).
    STOCKROOM_MAX_CALLS_IN_FLIGHT: '2000',
  });
  writers = Array.from({ length: CHANNELS }, (_, index) => stockroom.grpcClient(INVENTORY, { 'grpc.primary_user_agent': `writer-${index}` }));
  events_client = stockroom.grpcClient(EVENTS);
});

afterAll(async () => {
  await stockroom.close();
  console.error = console_error;
  expect(console_errors.map((args) => String(args[0]))).toEqual([]);
});

/** Numeric order of two positions `<xid>-<id>`. */
function compare(a: string, b: string): number {
  const [ax, ai] = a.split('-').map(BigInt);
  const [bx, bi] = b.split('-').map(BigInt);
  return ax !== bx ? (ax < bx ? -1 : 1) : ai === bi ? 0 : ai < bi ? -1 : 1;
}

interface Subscription {
  readonly events: any[];
  /** Last position seen (event or heartbeat). */
  position: string;
  heartbeats: number;
  call: grpc.ClientReadableStream<any>;
  ended: Promise<grpc.ServiceError | undefined>;
}

function subscribe(token: string, request: object): Subscription {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const stream = (events_client as any).watchEvents(request, metadata) as grpc.ClientReadableStream<any>;
  const subscription: Subscription = { events: [], position: (request as any).afterPosition ?? '', heartbeats: 0, call: stream, ended: undefined as any };
  stream.on('data', (message: any) => {
    if (message.event) {
      subscription.events.push(message.event);
      subscription.position = message.event.position;
    } else {
      subscription.heartbeats++;
      subscription.position = message.heartbeat.position;
    }
  });
  subscription.ended = new Promise((resolve) => {
    stream.on('error', (error: grpc.ServiceError) => resolve(error));
    stream.on('end', () => resolve(undefined));
  });
  return subscription;
}

async function listAll(token: string, after: string): Promise<{ events: any[]; last: string }> {
  const events: any[] = [];
  let page_token = '';
  let last = after;
  do {
    const page = await call(events_client, 'ListEvents', { afterPosition: after, pageSize: 1000, pageToken: page_token }, token);
    events.push(...page.events);
    page_token = page.nextPageToken;
    last = page.lastPosition;
  } while (page_token !== '');
  return { events, last };
}

test('1,000 concurrent writes: a subscriber from before and one that reconnects three times each get every event once, in order', async () => {
  const tenant = uniqueTenant('watch');
  const token = await stockroom.token({ tenant, roles: ['admin'], sub: 'writer' });
  const products = Array.from({ length: 20 }, (_, index) => `P-${index}`);
  let next = 0;
  const write = (method: string, request: object) => call(writers[next++ % CHANNELS], method, request, token);
  for (const product of products) {
    await write('CreateItem', { productId: product, name: product, reorderPoint: 5 });
    await write('RecordInbound', { productId: product, quantity: 100 });
  }
  // Start after the setup's 60 events, once they are visible (other test files' transactions may delay them).
  const settled = await eventually(() => call(events_client, 'ListEvents', { pageSize: 1000 }, token), (page) => page.events.length >= products.length * 3);
  const start = settled.lastPosition;

  const steady = subscribe(token, {});
  await until(() => steady.heartbeats > 0, 'the first heartbeat (the stream has its start position)', { timeout_ms: 5_000, interval_ms: 20 });
  let hopper = subscribe(token, { afterPosition: start });
  const hopper_events: any[] = [];
  let reconnects = 0;

  const WRITES = 1_000;
  let done = 0;
  const work = Array.from({ length: WRITES }, async (_, index) => {
    const product = products[index % products.length];
    const reference = `O-${index}`;
    if (index % 4 === 0) await write('RecordInbound', { productId: product, quantity: 3, reference: `PO-${index}` });
    else if (index % 4 === 1) await write('Reserve', { items: [{ productId: product, quantity: 1 }], reference });
    else if (index % 4 === 2) await write('AdjustInventory', { productId: product, quantityDelta: 1, reason: 'found' });
    else await write('RecordReturn', { productId: product, quantity: 1, reference });
    done++;
  });
  // Reconnect the hopper three times while the writes run, each time from the last position it saw.
  const hops = (async () => {
    for (const fraction of [0.2, 0.45, 0.7]) {
      await until(() => done >= WRITES * fraction, `${fraction * 100}% of the writes`, { timeout_ms: 60_000, interval_ms: 20 });
      hopper.call.cancel();
      await hopper.ended;
      hopper_events.push(...hopper.events);
      hopper = subscribe(token, { afterPosition: hopper.position });
      reconnects++;
    }
  })();
  await Promise.all(work);
  await hops;

  // Each write's event (and any alert it raised, same transaction) becomes visible once every
  // transaction that started before it has ended; other test files share the database.
  const ALERTS = ['EVENT_TYPE_LOW_STOCK', 'EVENT_TYPE_OUT_OF_STOCK', 'EVENT_TYPE_BACK_IN_STOCK'];
  const listed = await eventually(() => listAll(token, start), (all) => all.events.filter((event) => !ALERTS.includes(event.type)).length >= WRITES, {
    timeout_ms: 20_000,
    interval_ms: 100,
  });
  await until(() => steady.events.length >= listed.events.length && hopper_events.length + hopper.events.length >= listed.events.length, 'both subscribers to catch up', { timeout_ms: 20_000, interval_ms: 20 });
  await sleep(300); // nothing more may arrive
  steady.call.cancel();
  hopper.call.cancel();
  hopper_events.push(...hopper.events);

  expect(reconnects).toBe(3);
  expect(listed.events.filter((event) => !ALERTS.includes(event.type))).toHaveLength(WRITES);
  const ids = listed.events.map((event) => event.id);
  expect(steady.events.map((event) => event.id)).toEqual(ids);
  expect(hopper_events.map((event) => event.id)).toEqual(ids);
  for (let index = 1; index < listed.events.length; index++) {
    expect(compare(listed.events[index - 1].position, listed.events[index].position)).toBe(-1);
  }
  // The events agree with the ledger: every movement once, and the last on_hand per product.
  const movements = await rawQuery<{ id: string }>(`select public_id::text as id from inventory_movements where tenant_id = $1`, [tenant]);
  const everything = await listAll(token, '0-0');
  const event_movements = everything.events.flatMap((event) => event.movementIds);
  expect(new Set(event_movements).size).toBe(event_movements.length);
  expect(event_movements.sort()).toEqual(movements.map((row) => row.id).sort());
  const items = await rawQuery<{ product_id: string; on_hand: string; reserved: string }>(
    `select product_id, on_hand::text, reserved::text from inventory_items where tenant_id = $1`,
    [tenant],
  );
  for (const item of items) {
    const last = listed.events.filter((event) => event.productId === item.product_id && event.onHand !== '').at(-1);
    expect([last.onHand, last.reserved]).toEqual([item.on_hand, item.reserved]);
  }
}, 55_000);

test('an idle stream gets heartbeats that carry its position; filters apply to the stream', async () => {
  const tenant = uniqueTenant('watch-idle');
  const token = await stockroom.token({ tenant, roles: ['viewer', 'admin'] });
  const stream = subscribe(token, { productIds: ['B'] });
  await until(() => stream.heartbeats >= 2, 'two heartbeats', { timeout_ms: 5_000, interval_ms: 20 });
  await call(writers[0], 'CreateItem', { productId: 'A', name: 'A', reorderPoint: 0 }, token);
  await call(writers[0], 'CreateItem', { productId: 'B', name: 'B', reorderPoint: 0 }, token);
  await until(() => stream.events.length === 1, 'the event of B', { timeout_ms: 5_000, interval_ms: 20 });
  expect(stream.events[0]).toMatchObject({ productId: 'B', type: 'EVENT_TYPE_ITEM_CREATED' });
  const heartbeats = stream.heartbeats;
  await until(() => stream.heartbeats > heartbeats, 'a heartbeat after the event', { timeout_ms: 5_000, interval_ms: 20 });
  expect(compare(stream.position, stream.events[0].position)).toBeGreaterThanOrEqual(0);
  stream.call.cancel();
});

test('a client that stops reading ends with RESOURCE_EXHAUSTED and the position to resume from', async () => {
  const tenant = uniqueTenant('watch-slow');
  const token = await stockroom.token({ tenant, roles: ['admin'] });
  await call(writers[0], 'CreateItem', { productId: 'A', name: 'A', reorderPoint: 0 }, token);
  const [item] = await rawQuery<{ id: string }>(`select id from inventory_items where tenant_id = $1`, [tenant]);
  // 2,000 events of about 1 kB (written straight into the outbox, as the owner), more than HTTP/2 windows hold.
  await rawQuery(
    `insert into events (tenant_id, type, product_id, item_id, reference, caller)
     select $1, 'ITEM_UPDATED', 'A', $2, repeat('x', 1000), 'seed' from generate_series(1, 2000)`,
    [tenant, item.id],
  );
  // A Connect client over HTTP/2 reads only when iterated: it stops reading for 10 s after the first event.
  // The server ends the stream once what the client's transport takes in (hundreds of these events:
  // 389 through a paused grpc-js stream, more through Connect's) and its own buffer are full for
  // STOCKROOM_EVENTS_SLOW_CLIENT_MS. On a saturated machine it reads only about 300 events a second,
  // so a 3 s pause could end before that and the client then read all 2,000 (seen on Citus under load).
  const client = createClient(EventService, createGrpcTransport({ baseUrl: stockroom.url }));
  const received: string[] = [];
  let failure: ConnectError | undefined;
  try {
    for await (const message of client.watchEvents({ fromOldest: true }, { headers: { authorization: `Bearer ${token}` } })) {
      if (message.kind.case === 'event') received.push(message.kind.value.position);
      if (received.length === 1) await sleep(10_000);
      if (received.length > 2_000) throw new Error('the stream never ended: all 2,000 events arrived after the pause');
    }
  } catch (error) {
    failure = ConnectError.from(error);
  }
  expect({ code: failure?.code, message: failure?.rawMessage }).toMatchObject({ code: Code.ResourceExhausted });
  const info = failure!.findDetails(ErrorInfoSchema)[0];
  expect(info.reason).toBe('EVENT_STREAM_BUFFER_FULL');
  // Every event the server wrote before the error arrived: resume from the last one.
  expect(info.metadata.resumePosition).toBe(received.at(-1));
  expect(received.length).toBeLessThan(2_000);
  // Resuming from there continues with the very next event: no gap, no repeat.
  const resumed = await call(events_client, 'ListEvents', { afterPosition: info.metadata.resumePosition, pageSize: 1 }, token);
  const previous = await call(events_client, 'ListEvents', { afterPosition: received.at(-2), pageSize: 2 }, token);
  expect(previous.events.map((event: any) => event.position)).toEqual([received.at(-1), resumed.events[0].position]);
});

test.each([
  ['Connect over HTTP/1.1', () => createConnectTransport({ baseUrl: stockroom.url })],
  ['gRPC-Web', () => createGrpcWebTransport({ baseUrl: stockroom.url })],
])('WatchEvents streams over %s from a fetch-based client', async (_name, transport) => {
  const tenant = uniqueTenant('watch-web');
  const token = await stockroom.token({ tenant, roles: ['admin'] });
  const client = createClient(EventService, transport());
  const abort = new AbortController();
  const received: string[] = [];
  let started = false;
  const reading = (async () => {
    try {
      for await (const message of client.watchEvents({}, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal })) {
        if (message.kind.case === 'event') received.push(message.kind.value.productId);
        if (message.kind.case === 'heartbeat') started = true;
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  })();
  await until(() => started, 'the first heartbeat', { timeout_ms: 5_000, interval_ms: 20 });
  for (const product of ['W1', 'W2', 'W3']) await call(writers[0], 'CreateItem', { productId: product, name: product, reorderPoint: 0 }, token);
  await until(() => received.length >= 3, 'three events', { timeout_ms: 5_000, interval_ms: 20 });
  abort.abort();
  await reading;
  expect(received).toEqual(['W1', 'W2', 'W3']);
});
