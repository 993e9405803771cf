/**
 * The connection layer's limits, tried with raw sockets the way a broken or
 * hostile client behaves: silence, half a header, the HTTP/2 preface and
 * nothing more, a header sent one byte at a time, too many connections,
 * calls and Health Watch streams. Each must end within its documented bound.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { connectionConfig } from '../src/db/session.js';
import { call, expectError, lockWaiters, startStockroom, testDatabaseUrl, uniqueTenant, type TestStockroom } from './support/harness.js';
import { eventually } from './support/wait.js';

const IDLE_MS = 400;
const HEADER_MS = 900;
let stockroom: TestStockroom;

beforeAll(async () => {
  stockroom = await startStockroom({
    STOCKROOM_IDLE_TIMEOUT_MS: String(IDLE_MS),
    STOCKROOM_HEADER_TIMEOUT_MS: String(HEADER_MS),
    STOCKROOM_MAX_CALLS_IN_FLIGHT: '3',
    STOCKROOM_MAX_HEALTH_WATCHES: '2',
    STOCKROOM_MAX_EVENT_WATCHES: '2',
    STOCKROOM_EVENTS_HEARTBEAT_MS: '100',
    STOCKROOM_MAX_CONNECTIONS: '40',
    STOCKROOM_LOCK_TIMEOUT_MS: '10000',
    // Each Reserve its own transaction, so each waits on the held row in PostgreSQL (coalesced, one would and the rest queue in the process).
    STOCKROOM_RESERVE_BATCH_MAX: '1',
  });
});
afterAll(() => stockroom.close());

/** Opens a raw socket, writes `first` (if any), and resolves with how long the server kept it open. */
function openFor(first?: string | Buffer, trickle?: { text: string; every_ms: number }): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(stockroom.port, '127.0.0.1');
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      if (first !== undefined) socket.write(first);
      if (trickle) {
        let at = 0;
        timer = setInterval(() => {
          if (at < trickle.text.length && !socket.destroyed) socket.write(trickle.text[at++]);
        }, trickle.every_ms);
      }
    });
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve(Date.now() - started);
    });
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept the socket open for 10 s'));
    }, 10_000).unref();
  });
}

test('a socket that sends nothing is closed within the idle timeout', async () => {
  const open_ms = await openFor();
  expect(open_ms).toBeGreaterThanOrEqual(IDLE_MS - 50);
  expect(open_ms).toBeLessThan(IDLE_MS + 500);
});

test('half an HTTP/1.1 header is closed within the idle timeout', async () => {
  const open_ms = await openFor('POST /stockroom.inventory.v1.InventoryService/GetItem HTTP/1.1\r\nHost: x\r\n');
  expect(open_ms).toBeLessThan(IDLE_MS + 500);
});

test('a connection that sends only the HTTP/2 preface is closed within the idle timeout', async () => {
  const open_ms = await openFor(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
  expect(open_ms).toBeLessThan(IDLE_MS + 500);
});

test('an HTTP/1.1 header sent a byte at a time is cut at the header timeout', async () => {
  // Each byte restarts the idle timer; only the header timeout ends this.
  const open_ms = await openFor('GET /', { text: 'x'.repeat(200), every_ms: 100 });
  expect(open_ms).toBeGreaterThanOrEqual(HEADER_MS - 50);
  expect(open_ms).toBeLessThan(HEADER_MS + 500);
});

test('an HTTP/1.1 keep-alive connection serves several requests, then closes when idle', async () => {
  const socket = net.connect(stockroom.port, '127.0.0.1');
  socket.on('error', () => {});
  const request = 'POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';
  const answer = () =>
    new Promise<string>((resolve) => {
      socket.once('data', (chunk: Buffer) => resolve(chunk.toString()));
      socket.write(request);
    });
  expect(await answer()).toContain('"status":"SERVING"');
  expect(await answer()).toContain('"status":"SERVING"');
  const started = Date.now();
  const open_ms = await new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
  // The keep-alive timeout is min(5 s, idle timeout); Node closes 1 s after the one it advertises.
  expect(open_ms).toBeGreaterThanOrEqual(IDLE_MS);
  expect(open_ms).toBeLessThan(IDLE_MS + 1_000 + 300);
});

/** Holds FOR UPDATE on an inventory item so that calls touching it wait. */
async function lockedItem(): Promise<{ token: string; release: () => Promise<void>; lock_waiters: () => Promise<number> }> {
  const tenant = uniqueTenant('edge-limits');
  const token = await stockroom.token({ tenant, roles: ['admin'] });
  const inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
  await call(inventory, 'createItem', { productId: 'HELD', sku: 'H', name: 'Held' }, token);
  await call(inventory, 'recordInbound', { productId: 'HELD', quantity: '9', reference: 'PO' }, token);
  const client = new pg.Client(connectionConfig(testDatabaseUrl()));
  await client.connect();
  await client.query('begin');
  await client.query('select 1 from inventory_items where tenant_id = $1 and product_id = $2 for update', [tenant, 'HELD']);
  return {
    token,
    lock_waiters: lockWaiters,
    release: async () => {
      await client.query('rollback');
      await client.end();
    },
  };
}

test('calls beyond the in-flight cap are refused at once with RESOURCE_EXHAUSTED, and calls in flight outlive the idle timeout', async () => {
  const { token, release, lock_waiters } = await lockedItem();
  const inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
  const reserve = (n: number) => call(inventory, 'reserve', { items: [{ productId: 'HELD', quantity: '1' }], reference: `ORDER-${n}` }, token);
  const held = [reserve(1), reserve(2), reserve(3)];
  try {
    // Let the three reach the lock wait (on Citus, on the worker holding the item).
    for (let waited_ms = 0; (await lock_waiters()) < 3; waited_ms += 25) {
      if (waited_ms > 5_000) throw new Error('the calls never reached the lock');
      await sleep(25);
    }
    const started = performance.now();
    const error = await expectError(reserve(4));
    const refused_ms = performance.now() - started;
    expect(error.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(error.errorInfos).toHaveLength(1);
    expect(error.errorInfo?.reason).toBe('TOO_MANY_CALLS_IN_FLIGHT');
    expect(error.errorInfo?.metadata.maxCallsInFlight).toBe('3');
    const again = performance.now();
    await expectError(reserve(6));
    process.stdout.write(`in-flight cap: refused in ${refused_ms.toFixed(1)} ms, then ${(performance.now() - again).toFixed(1)} ms\n`);
    // Milliseconds on a quiet machine; the bound leaves room for a loaded CI box.
    expect(refused_ms).toBeLessThan(250);
    // Waiting longer than the idle timeout must not cut the calls in flight.
    await sleep(IDLE_MS + 200);
  } finally {
    await release();
  }
  await expect(Promise.all(held)).resolves.toHaveLength(3);
  // Below the cap again: admitted.
  await expect(reserve(5)).resolves.toBeDefined();
});

test('Health Watch streams beyond the cap are refused with RESOURCE_EXHAUSTED', async () => {
  const health = stockroom.grpcClient('grpc.health.v1.Health');
  const open: grpc.ClientReadableStream<unknown>[] = [];
  const first_status = (stream: grpc.ClientReadableStream<unknown>) =>
    new Promise<unknown>((resolve, reject) => {
      stream.once('data', resolve);
      stream.once('error', reject);
    });
  const watch = () => (health as unknown as { watch(request: object): grpc.ClientReadableStream<unknown> }).watch({ service: '' });
  try {
    for (let n = 0; n < 2; n++) {
      const stream = watch();
      open.push(stream);
      await first_status(stream);
    }
    const refused = watch();
    open.push(refused);
    const error = await expectError(first_status(refused));
    expect(error.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(error.errorInfos).toHaveLength(1);
    expect(error.errorInfo?.reason).toBe('TOO_MANY_WATCHES');
  } finally {
    for (const stream of open) stream.cancel();
  }
});

test('WatchEvents streams beyond their cap are refused, and open watches leave the calls-in-flight cap to unary calls', async () => {
  const health = stockroom.grpcClient('grpc.health.v1.Health') as unknown as { watch(request: object): grpc.ClientReadableStream<unknown> };
  const events = stockroom.grpcClient('stockroom.events.v1.EventService') as unknown as {
    watchEvents(request: object, metadata: grpc.Metadata): grpc.ClientReadableStream<unknown>;
  };
  const token = await stockroom.token({ tenant: uniqueTenant('watch-cap'), roles: ['admin'] });
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const first_message = (stream: grpc.ClientReadableStream<unknown>) =>
    new Promise<unknown>((resolve, reject) => {
      stream.once('data', resolve);
      stream.once('error', reject);
    });
  const open: grpc.ClientReadableStream<unknown>[] = [];
  const opened = async (stream: grpc.ClientReadableStream<unknown>) => {
    open.push(stream);
    await first_message(stream);
    return stream;
  };
  try {
    // Four open streams against a cap of 3 calls in flight.
    for (let n = 0; n < 2; n++) await opened(health.watch({ service: '' }));
    const [first_watch] = [await opened(events.watchEvents({}, metadata)), await opened(events.watchEvents({}, metadata))];
    const inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
    await expect(Promise.all([1, 2, 3].map(() => call(inventory, 'listItems', {}, token)))).resolves.toHaveLength(3);

    const refused = events.watchEvents({}, metadata);
    open.push(refused);
    const error = await expectError(first_message(refused));
    expect([error.code, error.errorInfo?.reason, error.errorInfo?.metadata.maxEventWatches]).toEqual([grpc.status.RESOURCE_EXHAUSTED, 'TOO_MANY_WATCHES', '2']);
    expect(error.errorInfos).toHaveLength(1);

    // A watch that ends gives its place back.
    first_watch.cancel();
    const reopen = () => {
      const next = events.watchEvents({}, metadata);
      open.push(next);
      return first_message(next).then(() => 'open', (e: grpc.ServiceError) => e.code);
    };
    expect(await eventually(reopen, (answer) => answer === 'open', { timeout_ms: 5_000 })).toBe('open');
  } finally {
    for (const stream of open) stream.cancel();
  }
});

test('HTTP/2 clients are told STOCKROOM_MAX_CONCURRENT_STREAMS in SETTINGS', async () => {
  const limited = await startStockroom({ STOCKROOM_MAX_CONCURRENT_STREAMS: '7' });
  const session = http2.connect(limited.url);
  try {
    const settings = await new Promise<http2.Settings>((resolve, reject) => {
      session.once('remoteSettings', resolve);
      session.once('error', reject);
    });
    expect(settings.maxConcurrentStreams).toBe(7);
  } finally {
    session.destroy();
    await limited.close();
  }
});

test('connections beyond the cap are closed as they arrive', async () => {
  const limited = await startStockroom({ STOCKROOM_MAX_CONNECTIONS: '2', STOCKROOM_IDLE_TIMEOUT_MS: '5000' });
  const sockets: net.Socket[] = [];
  try {
    const connect = () =>
      new Promise<net.Socket>((resolve) => {
        const socket = net.connect(limited.port, '127.0.0.1', () => resolve(socket));
        socket.on('error', () => {});
        sockets.push(socket);
      });
    await connect();
    await connect();
    const third = await connect();
    const closed_ms = await new Promise<number>((resolve) => {
      const started = Date.now();
      if (third.destroyed) resolve(0);
      third.once('close', () => resolve(Date.now() - started));
    });
    expect(closed_ms).toBeLessThan(500);
  } finally {
    for (const socket of sockets) socket.destroy();
    await limited.close();
  }
});
