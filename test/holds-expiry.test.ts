/**
 * Inventory holds that end on their own (issue 11): real servers, real
 * PostgreSQL, real grpc-js clients. Holds here live 200 ms and the sweepers
 * run every 25-50 ms, so expiry is observable within a second.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ReservationExpiredDetailSchema, ReservationExceededDetailSchema } from '../gen/stockroom/inventory/v1/error_details_pb.js';
import { call, errorDetails, expectError, rawQuery, startStockroom, TEST_AUDIENCE, TEST_ISSUER, TEST_JWT_SECRET, testDatabaseUrl, uniqueTenant, type TestStockroom } from './support/harness.js';

const SERVICE = 'stockroom.inventory.v1.InventoryService';
const SCHEMAS = [ReservationExpiredDetailSchema, ReservationExceededDetailSchema];
const ROOT = path.resolve(import.meta.dirname, '..');
const CHANNELS = 6;

let stockroom: TestStockroom;
let clients: grpc.Client[];

beforeAll(async () => {
  stockroom = await startStockroom({ STOCKROOM_HOLD_SWEEP_INTERVAL_MS: '50', STOCKROOM_HOLD_TTL_MAX_MS: '3600000' });
  clients = Array.from({ length: CHANNELS }, (_, index) => stockroom.grpcClient(SERVICE, { 'grpc.primary_user_agent': `holds-${index}` }));
});

afterAll(async () => {
  await stockroom.close();
});

const ttl = (ms: number) => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });

async function tenant(stock: number, product_id = 'SKU-1') {
  const name = uniqueTenant('holds');
  const token = await stockroom.token({ tenant: name, roles: ['admin'] });
  let next = 0;
  const rpc = <T = any>(method: string, request: object) => call<T>(clients[next++ % CHANNELS], method, request, token);
  await rpc('CreateItem', { productId: product_id, name: product_id });
  if (stock > 0) await rpc('RecordInbound', { productId: product_id, quantity: stock, reference: 'PO-1' });
  return { name, rpc };
}

/** Polls until `check` passes or `timeout_ms` passes (then its last failure is thrown). */
async function eventually(check: () => Promise<void>, timeout_ms = 5_000): Promise<void> {
  const until = Date.now() + timeout_ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > until) throw error;
      await sleep(50);
    }
  }
}

/** Lifetime of the holds the race tests reserve: long enough that all 30 are reserved before the first expires. */
const RACE_TTL_MS = 1_000;

/** Milliseconds to wait so that call `index` is sent between 300 ms before and 60 ms after the hold's expire time (a call reaches its transaction tens of ms after it is sent, more on a loaded machine). */
function untilAround(expire_time: { seconds: string; nanos: number }, index: number): number {
  const expire_ms = Number(expire_time.seconds) * 1000 + Math.floor(expire_time.nanos / 1e6);
  return Math.max(0, expire_ms - 300 + (index % 13) * 30 - Date.now());
}

async function expiryRows(tenant_name: string) {
  return rawQuery<{ reference: string; quantity: string; reason: string }>(
    `select reference, quantity::text, reason from inventory_hold_expiries where tenant_id = $1 order by reference`,
    [tenant_name],
  );
}

describe('Reserve with a lifetime', () => {
  test('a 200 ms hold expires, is released once with reason EXPIRED, and frees its units for the next Reserve', async () => {
    const { name, rpc } = await tenant(5);
    const reserved = await rpc('Reserve', { reference: 'cart-1', items: [{ productId: 'SKU-1', quantity: 5 }], ttl: ttl(200) });
    expect(reserved.lines[0].held).toBe('5');
    expect(reserved.lines[0].expireTime).not.toBeNull();
    expect((await expectError(rpc('Reserve', { reference: 'cart-2', items: [{ productId: 'SKU-1', quantity: 1 }] }))).errorInfo?.reason).toBe('INSUFFICIENT_STOCK');

    await eventually(async () => {
      const item = (await rpc('GetItem', { productId: 'SKU-1' })).item;
      expect(item.reserved).toBe('0');
    });
    const view = await rpc('GetReservation', { reference: 'cart-1' });
    expect(view.reservation.lines[0]).toMatchObject({ held: '0', expired: '5', committed: '0', released: '0' });
    expect(view.reservation.lines[0].expireTime).not.toBeNull();
    expect(view.expiries).toEqual([expect.objectContaining({ productId: 'SKU-1', quantity: '5', reason: 'EXPIRED' })]);
    await sleep(300); // more sweeps: still exactly one release
    expect(await expiryRows(name)).toEqual([{ reference: 'cart-1', quantity: '5', reason: 'EXPIRED' }]);

    const next = await rpc('Reserve', { reference: 'cart-2', items: [{ productId: 'SKU-1', quantity: 5 }] });
    expect(next.lines[0].expireTime).toBeNull();
    expect(next.items[0]).toMatchObject({ reserved: '5', available: '0' });
  });

  test('without a lifetime a hold never expires; the latest Reserve of a line sets its expire time', async () => {
    const { rpc } = await tenant(10);
    await rpc('Reserve', { reference: 'order-1', items: [{ productId: 'SKU-1', quantity: 2 }], ttl: ttl(200) });
    const renewed = await rpc('Reserve', { reference: 'order-1', items: [{ productId: 'SKU-1', quantity: 1 }] });
    expect(renewed.lines[0]).toMatchObject({ held: '3', expireTime: null });
    await sleep(500);
    const view = await rpc('GetReservation', { reference: 'order-1' });
    expect(view.reservation.lines[0]).toMatchObject({ held: '3', expired: '0' });
    expect(view.expiries).toEqual([]);
  });

  test('a lifetime above the maximum, or not in whole milliseconds, is INVALID_ARGUMENT naming ttl', async () => {
    const { rpc } = await tenant(1);
    const too_long = await expectError(rpc('Reserve', { reference: 'r', items: [{ productId: 'SKU-1', quantity: 1 }], ttl: ttl(3_600_001) }));
    expect(too_long.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(too_long.badRequest?.fieldViolations[0].field).toBe('ttl');
    const fraction = await expectError(rpc('Reserve', { reference: 'r', items: [{ productId: 'SKU-1', quantity: 1 }], ttl: { seconds: '1', nanos: 5 } }));
    expect(fraction.badRequest?.fieldViolations[0].field).toBe('ttl');
  });

  test('the server default lifetime applies to a Reserve that names none', async () => {
    const other = await startStockroom({ STOCKROOM_HOLD_TTL_DEFAULT_MS: '200', STOCKROOM_HOLD_SWEEP_INTERVAL_MS: '50' });
    try {
      const name = uniqueTenant('holds-default');
      const token = await other.token({ tenant: name, roles: ['admin'] });
      const client = other.grpcClient(SERVICE);
      const rpc = (method: string, request: object) => call(client, method, request, token);
      await rpc('CreateItem', { productId: 'P', name: 'P' });
      await rpc('RecordInbound', { productId: 'P', quantity: 3 });
      const reserved = await rpc('Reserve', { reference: 'r-1', items: [{ productId: 'P', quantity: 3 }] });
      expect(reserved.lines[0].expireTime).not.toBeNull();
      await eventually(async () => expect((await rpc('GetItem', { productId: 'P' })).item.reserved).toBe('0'));
    } finally {
      await other.close();
    }
  });
});

describe('an expired hold refuses commit and release', () => {
  test('CommitOutbound and Release of an expired hold: FAILED_PRECONDITION RESERVATION_EXPIRED with the numbers', async () => {
    const { rpc } = await tenant(4);
    await rpc('Reserve', { reference: 'o-1', items: [{ productId: 'SKU-1', quantity: 4 }], ttl: ttl(200) });
    await sleep(250); // past the expire time, swept or not
    const commit = await expectError(rpc('CommitOutbound', { reference: 'o-1', items: [{ productId: 'SKU-1', quantity: 4 }] }), SCHEMAS);
    expect(commit.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(commit.errorInfos).toHaveLength(1);
    expect(commit.errorInfo?.reason).toBe('RESERVATION_EXPIRED');
    expect(commit.errorInfo?.metadata).toMatchObject({ reference: 'o-1', productId: 'SKU-1', requested: '4', held: '0', expired: '4' });
    const detail = commit.details.find((d) => d.typeName === 'stockroom.inventory.v1.ReservationExpiredDetail')?.value as any;
    expect(detail.lines[0]).toMatchObject({ productId: 'SKU-1', requested: 4n, held: 0n, expired: 4n });
    expect(detail.lines[0].expireTime).toBeDefined();

    for (const request of [{ reference: 'o-1', items: [{ productId: 'SKU-1', quantity: 1 }] }, { reference: 'o-1', items: [] }]) {
      const release = await expectError(rpc('Release', request), SCHEMAS);
      expect(release.errorInfo?.reason).toBe('RESERVATION_EXPIRED');
    }
    const item = (await rpc('GetItem', { productId: 'SKU-1' })).item;
    expect(item.onHand).toBe('4');
  });

  test('retries of a Reserve with a lifetime return the first answer, also after it expired, and hold once', async () => {
    const { name, rpc } = await tenant(4);
    const request = { reference: 'o-r', items: [{ productId: 'SKU-1', quantity: 3 }], ttl: ttl(200), idempotencyKey: 'reserve-o-r' };
    const [first, ...concurrent] = await Promise.all([rpc('Reserve', request), rpc('Reserve', request), rpc('Reserve', request)]);
    for (const retry of concurrent) expect(retry).toEqual(first);
    await sleep(400);
    expect(await rpc('Reserve', request)).toEqual(first);
    await eventually(async () => expect((await rpc('GetItem', { productId: 'SKU-1' })).item.reserved).toBe('0'));
    expect(await expiryRows(name)).toEqual([{ reference: 'o-r', quantity: '3', reason: 'EXPIRED' }]);
  });

  test('a retry of a commit that succeeded before expiry returns its first answer', async () => {
    const { rpc } = await tenant(3);
    await rpc('Reserve', { reference: 'o-2', items: [{ productId: 'SKU-1', quantity: 3 }], ttl: ttl(200) });
    const request = { reference: 'o-2', items: [{ productId: 'SKU-1', quantity: 2 }], idempotencyKey: 'commit-o-2' };
    const first = await rpc('CommitOutbound', request);
    await sleep(300);
    const retry = await rpc('CommitOutbound', request);
    expect(retry).toEqual(first);
    await eventually(async () => {
      const view = await rpc('GetReservation', { reference: 'o-2' });
      expect(view.reservation.lines[0]).toMatchObject({ held: '0', committed: '2', expired: '1' });
    });
    expect((await rpc('GetItem', { productId: 'SKU-1' })).item).toMatchObject({ onHand: '1', reserved: '0' });
  });

  test('a commit racing its hold\'s expiry either commits or is refused as expired, never both, never neither', async () => {
    const holds = 30;
    const { name, rpc } = await tenant(holds);
    const outcomes = await Promise.all(
      Array.from({ length: holds }, async (_, index) => {
        const reserved = await rpc('Reserve', { reference: `race-${index}`, items: [{ productId: 'SKU-1', quantity: 1 }], ttl: ttl(RACE_TTL_MS) });
        await sleep(untilAround(reserved.lines[0].expireTime, index));
        try {
          await rpc('CommitOutbound', { reference: `race-${index}`, items: [{ productId: 'SKU-1', quantity: 1 }], idempotencyKey: `race-${index}` });
          return 'committed';
        } catch (error) {
          const decoded = errorDetails(error, SCHEMAS);
          expect(decoded.errorInfo?.reason).toBe('RESERVATION_EXPIRED');
          return 'expired';
        }
      }),
    );
    await eventually(async () => expect((await rpc('GetItem', { productId: 'SKU-1' })).item.reserved).toBe('0'));
    const lines = await rawQuery<{ reference: string; held: string; committed: string; expired: string }>(
      `select reference, held::text, committed::text, expired::text from inventory_reservations where tenant_id = $1`,
      [name],
    );
    const committed = outcomes.filter((outcome) => outcome === 'committed').length;
    console.log(`commit racing expiry: ${committed} of ${holds} committed, ${holds - committed} refused as expired`);
    for (const line of lines) {
      const index = Number(line.reference.slice('race-'.length));
      expect(line.held).toBe('0');
      expect(outcomes[index] === 'committed' ? [line.committed, line.expired] : [line.committed, line.expired]).toEqual(
        outcomes[index] === 'committed' ? ['1', '0'] : ['0', '1'],
      );
    }
    expect((await rpc('GetItem', { productId: 'SKU-1' })).item).toMatchObject({ onHand: String(holds - committed), reserved: '0' });
    expect(await expiryRows(name)).toHaveLength(holds - committed);
  });
});

describe('ExtendReservation', () => {
  test('moves the expire time of what the reference still holds; an idempotent retry returns the first answer', async () => {
    const { rpc } = await tenant(5, 'A');
    await rpc('CreateItem', { productId: 'B', name: 'B' });
    await rpc('RecordInbound', { productId: 'B', quantity: 5 });
    await rpc('Reserve', { reference: 'x', items: [{ productId: 'A', quantity: 2 }, { productId: 'B', quantity: 1 }], ttl: ttl(200) });
    const request = { reference: 'x', ttl: ttl(60_000), idempotencyKey: 'extend-x' };
    const extended = await rpc('ExtendReservation', request);
    expect(extended.lines.map((line: any) => line.productId)).toEqual(['A', 'B']);
    expect(Number(extended.lines[0].expireTime.seconds) * 1000).toBeGreaterThan(Date.now() + 50_000);
    expect(await rpc('ExtendReservation', request)).toEqual(extended);
    await sleep(400);
    const view = await rpc('GetReservation', { reference: 'x' });
    expect(view.reservation.lines.map((line: any) => [line.held, line.expired])).toEqual([['2', '0'], ['1', '0']]);
  });

  test('an extension racing the hold\'s expiry either extends it (never released) or is refused as expired (released once)', async () => {
    const holds = 30;
    const { name, rpc } = await tenant(holds);
    const outcomes = await Promise.all(
      Array.from({ length: holds }, async (_, index) => {
        const reserved = await rpc('Reserve', { reference: `ext-${index}`, items: [{ productId: 'SKU-1', quantity: 1 }], ttl: ttl(RACE_TTL_MS) });
        await sleep(untilAround(reserved.lines[0].expireTime, index));
        try {
          await rpc('ExtendReservation', { reference: `ext-${index}`, ttl: ttl(60_000) });
          return 'extended';
        } catch (error) {
          expect(errorDetails(error, SCHEMAS).errorInfo?.reason).toBe('RESERVATION_EXPIRED');
          return 'expired';
        }
      }),
    );
    const extended = outcomes.filter((outcome) => outcome === 'extended').length;
    console.log(`extension racing expiry: ${extended} of ${holds} extended, ${holds - extended} refused as expired`);
    await eventually(async () => expect((await rpc('GetItem', { productId: 'SKU-1' })).item.reserved).toBe(String(extended)));
    await sleep(300);
    const released = new Set((await expiryRows(name)).map((row) => row.reference));
    outcomes.forEach((outcome, index) => expect([`ext-${index}`, released.has(`ext-${index}`)]).toEqual([`ext-${index}`, outcome === 'expired']));
  });

  test('an expired reference cannot be extended; an unknown one is NOT_FOUND; ttl is required', async () => {
    const { rpc } = await tenant(5);
    await rpc('Reserve', { reference: 'gone', items: [{ productId: 'SKU-1', quantity: 1 }], ttl: ttl(200) });
    await sleep(300);
    expect((await expectError(rpc('ExtendReservation', { reference: 'gone', ttl: ttl(1000) }))).errorInfo?.reason).toBe('RESERVATION_EXPIRED');
    expect((await expectError(rpc('ExtendReservation', { reference: 'never', ttl: ttl(1000) }))).code).toBe(grpc.status.NOT_FOUND);
    expect((await expectError(rpc('ExtendReservation', { reference: 'gone' }))).badRequest?.fieldViolations[0].field).toBe('ttl');
  });
});

describe('ListReservations', () => {
  test('by state, by product and expiring before a time, keyset-paged', async () => {
    const { rpc } = await tenant(100, 'A');
    await rpc('CreateItem', { productId: 'B', name: 'B' });
    await rpc('RecordInbound', { productId: 'B', quantity: 100 });
    for (let index = 0; index < 5; index++) {
      await rpc('Reserve', { reference: `keep-${index}`, items: [{ productId: 'A', quantity: 1 }, { productId: 'B', quantity: 1 }], ttl: ttl(3_600_000) });
    }
    await rpc('Reserve', { reference: 'lapse', items: [{ productId: 'A', quantity: 1 }], ttl: ttl(200) });
    await rpc('Reserve', { reference: 'ship', items: [{ productId: 'B', quantity: 2 }] });
    await rpc('CommitOutbound', { reference: 'ship', items: [{ productId: 'B', quantity: 2 }] });
    await sleep(300);

    const pages: any[] = [];
    let token = '';
    do {
      const page = await rpc('ListReservations', { pageSize: 3, pageToken: token, state: 'RESERVATION_STATE_HELD' });
      pages.push(...page.lines);
      token = page.nextPageToken;
    } while (token !== '');
    expect(pages.map((line) => `${line.reference}/${line.productId}`).sort()).toEqual(
      ['keep-0', 'keep-1', 'keep-2', 'keep-3', 'keep-4'].flatMap((reference) => [`${reference}/A`, `${reference}/B`]),
    );
    const expired = await rpc('ListReservations', { state: 'RESERVATION_STATE_EXPIRED' });
    expect(expired.lines.map((line: any) => [line.reference, line.expired])).toEqual([['lapse', '1']]);
    const shipped = await rpc('ListReservations', { state: 'RESERVATION_STATE_COMMITTED', productId: 'B' });
    expect(shipped.lines.map((line: any) => line.reference)).toEqual(['ship']);
    const soon = await rpc('ListReservations', { expireBefore: { seconds: String(Math.floor(Date.now() / 1000) + 7200), nanos: 0 }, productId: 'A' });
    expect(soon.lines).toHaveLength(5);
    const wrong = await expectError(rpc('ListReservations', { pageSize: 3, pageToken: (await rpc('ListReservations', { pageSize: 3 })).nextPageToken, productId: 'A' }));
    expect(wrong.errorInfo?.reason).toBe('INVALID_PAGE_TOKEN');
  });
});

describe('three server processes sweeping one database', () => {
  const children: ChildProcess[] = [];

  function spawnServer(): Promise<ChildProcess> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/main.js')], {
        env: {
          PATH: process.env.PATH ?? '',
          STOCKROOM_DATABASE_URL: testDatabaseUrl(),
          STOCKROOM_PORT: '0',
          STOCKROOM_JWT_SECRET: TEST_JWT_SECRET,
          STOCKROOM_JWT_AUDIENCE: TEST_AUDIENCE,
          STOCKROOM_JWT_ISSUER: TEST_ISSUER,
          STOCKROOM_DATABASE_POOL_MAX: '3',
          STOCKROOM_HOLD_SWEEP_INTERVAL_MS: '25',
          STOCKROOM_HOLD_SWEEP_BATCH_ROWS: '7',
          STOCKROOM_LOG_LEVEL: 'info',
        },
        cwd: ROOT,
      });
      children.push(child);
      let output = '';
      child.stdout!.on('data', (chunk) => {
        output += chunk;
        if (output.includes('"listening"')) resolve(child);
      });
      child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
    });
  }

  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null) return resolve(undefined);
            child.on('exit', resolve);
            child.kill('SIGTERM');
          }),
      ),
    );
  });

  test('every hold is released exactly once and the units serve the next Reserve', async () => {
    await Promise.all([spawnServer(), spawnServer(), spawnServer()]);
    const holds = 60;
    const { name, rpc } = await tenant(holds);
    await Promise.all(
      Array.from({ length: holds }, (_, index) => rpc('Reserve', { reference: `multi-${index}`, items: [{ productId: 'SKU-1', quantity: 1 }], ttl: ttl(200) })),
    );
    await eventually(async () => expect((await rpc('GetItem', { productId: 'SKU-1' })).item.reserved).toBe('0'));
    await sleep(300);
    const rows = await expiryRows(name);
    expect(rows).toHaveLength(holds);
    expect(new Set(rows.map((row) => row.reference)).size).toBe(holds);
    const [sums] = await rawQuery<{ held: string; expired: string }>(
      `select sum(held)::text as held, sum(expired)::text as expired from inventory_reservations where tenant_id = $1`,
      [name],
    );
    expect(sums).toEqual({ held: '0', expired: String(holds) });
    const again = await Promise.all(
      Array.from({ length: holds }, (_, index) => rpc('Reserve', { reference: `next-${index}`, items: [{ productId: 'SKU-1', quantity: 1 }] })),
    );
    expect(again).toHaveLength(holds);
    expect((await rpc('GetItem', { productId: 'SKU-1' })).item).toMatchObject({ onHand: String(holds), reserved: String(holds), available: '0' });
  });
});
