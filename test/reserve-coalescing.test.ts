/**
 * Coalesced Reserves (issue 15): Reserves of one item that queue while a
 * transaction on it is in flight are decided together, in arrival order, in
 * one transaction. Each caller must still get exactly the answer it would
 * have got alone, one after the other: its hold and the balance right after
 * it, or INSUFFICIENT_STOCK with the units left at its turn, and its own
 * idempotency record. Real server, real PostgreSQL, grpc-js clients.
 */
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { connectionConfig } from '../src/db/session.js';
import { loadConfig } from '../src/server/config.js';
import { mintToken } from '../src/tools/token.js';
import { InsufficientStockDetailSchema } from '../gen/stockroom/inventory/v1/error_details_pb.js';
import { call, errorDetails, rawQuery, serviceConstructor, startStockroom, testDatabaseUrl, uniqueTenant, type DecodedError, type TestStockroom } from './support/harness.js';
import { REPLICA_ENVIRONMENT, startReplica, stopReplica, untilServing, type Replica } from './support/replicas.js';

const SERVICE = 'stockroom.inventory.v1.InventoryService';
const STOCK = 100;
const CALLS = 500;

interface Request {
  readonly items: { productId: string; quantity: number }[];
  readonly reference: string;
  readonly idempotencyKey: string;
  /** Every third hold expires (issue 11), the others never. */
  readonly ttl?: { seconds: number };
}

type Answer = { ok: true; response: any } | { ok: false; error: DecodedError };

/**
 * 500 Reserves of one product: mostly 1 unit, some 2 or 3; every tenth
 * repeats the call before it (same key, same input), two in a hundred reuse
 * the key before them for another order, and some carry no key.
 */
function requests(product_id: string): Request[] {
  const list: Request[] = [];
  for (let i = 0; i < CALLS; i++) {
    const previous = list[i - 1];
    if (i % 10 === 9) list.push(previous);
    else if (i % 50 === 25) list.push({ ...previous, reference: `ORDER-${i}` });
    else {
      const quantity = i % 7 === 3 ? 3 : i % 5 === 1 ? 2 : 1;
      const ttl = i % 3 === 0 ? { ttl: { seconds: 3600 } } : {};
      list.push({ items: [{ productId: product_id, quantity }], reference: `ORDER-${i}`, idempotencyKey: i % 10 === 4 ? '' : `key-${i}`, ...ttl });
    }
  }
  return list;
}

async function send(client: grpc.Client, request: Request, token: string): Promise<Answer> {
  try {
    return { ok: true, response: await call(client, 'Reserve', request, token) };
  } catch (error) {
    return { ok: false, error: errorDetails(error, [InsufficientStockDetailSchema]) };
  }
}

type Expected = { kind: 'ok'; reserved: number } | { kind: 'replay'; of: number } | { kind: 'short'; available: number } | { kind: 'reused' };

/** What one-at-a-time Reserves in this order answer (the model). */
function oneAtATime(list: readonly Request[]): Expected[] {
  let reserved = 0;
  const keys = new Map<string, number>();
  return list.map((request, index) => {
    const earlier = request.idempotencyKey ? keys.get(request.idempotencyKey) : undefined;
    if (earlier !== undefined) return JSON.stringify(list[earlier]) === JSON.stringify(request) ? { kind: 'replay', of: earlier } : { kind: 'reused' };
    const quantity = request.items[0].quantity;
    if (quantity > STOCK - reserved) return { kind: 'short', available: STOCK - reserved };
    reserved += quantity;
    if (request.idempotencyKey) keys.set(request.idempotencyKey, index);
    return { kind: 'ok', reserved };
  });
}

function expectAnswer(answer: Answer, expected: Expected, answers: readonly Answer[], request: Request): void {
  switch (expected.kind) {
    case 'ok':
      expect(answer.ok).toBe(true);
      if (answer.ok) {
        expect(answer.response.items[0]).toMatchObject({ onHand: String(STOCK), reserved: String(expected.reserved) });
        expect(answer.response.lines[0]).toMatchObject({ held: String(request.items[0].quantity) });
        expect(answer.response.lines[0].expireTime ? 'expires' : 'never').toBe(request.ttl ? 'expires' : 'never');
      }
      break;
    case 'replay':
      expect(answer).toEqual(answers[expected.of]);
      break;
    case 'short':
      expect(answer.ok).toBe(false);
      if (!answer.ok) expectShort(answer.error, request.items[0].quantity, expected.available);
      break;
    case 'reused':
      expect(answer.ok).toBe(false);
      if (!answer.ok) expect(answer.error.errorInfo?.reason).toBe('IDEMPOTENCY_KEY_REUSED');
      break;
  }
}

function expectShort(error: DecodedError, requested: number, available: number): void {
  expect(error.code).toBe(grpc.status.FAILED_PRECONDITION);
  expect(error.errorInfos).toHaveLength(1);
  expect(error.errorInfo).toMatchObject({ reason: 'INSUFFICIENT_STOCK', metadata: { requested: String(requested), available: String(available) } });
  const detail = error.details.find((each) => each.typeName === 'stockroom.inventory.v1.InsufficientStockDetail')?.value as { shortages: { requested: bigint; available: bigint }[] };
  expect(detail.shortages).toMatchObject([{ requested: BigInt(requested), available: BigInt(available) }]);
}

/** The database's own account: reserved is what the holds hold, and the health check agrees. */
async function expectDatabaseAgrees(tenant: string, product_id: string, reserved: number): Promise<void> {
  const [row] = await rawQuery<{ reserved: string; held: string; holds: string; events: string }>(
    `select i.reserved,
            (select coalesce(sum(held), 0) from inventory_reservations r where r.tenant_id = i.tenant_id and r.item_id = i.id) as held,
            (select count(*) from inventory_reservations r where r.tenant_id = i.tenant_id and r.item_id = i.id) as holds,
            (select count(*) from events e where e.tenant_id = i.tenant_id and e.item_id = i.id and e.type = 'RESERVATION_CREATED') as events
     from inventory_items i where i.tenant_id = $1 and i.product_id = $2`,
    [tenant, product_id],
  );
  expect(row).toMatchObject({ reserved: String(reserved), held: String(reserved) });
  // One hold, and one event, per successful order.
  expect(row.events).toBe(row.holds);
}

/** The holds that expire are exactly those whose Reserve named a ttl, at about an hour from now. */
async function expectLifetimes(tenant: string, list: readonly Request[], answers: readonly Answer[]): Promise<void> {
  const rows = await rawQuery<{ reference: string; seconds: number | null }>(
    `select reference, extract(epoch from expires_at - now())::float8 as seconds from inventory_reservations where tenant_id = $1`,
    [tenant],
  );
  const by_reference = new Map(rows.map((row) => [row.reference, row.seconds]));
  list.forEach((request, index) => {
    if (!answers[index].ok) return;
    const seconds = by_reference.get(request.reference);
    if (request.ttl) expect(seconds).toBeGreaterThan(3000);
    else expect(seconds).toBeNull();
  });
}

describe('one server', () => {
  let stockroom: TestStockroom;
  let client: grpc.Client;

  beforeAll(async () => {
    stockroom = await startStockroom({ STOCKROOM_LOCK_TIMEOUT_MS: '1500', STOCKROOM_MAX_CALLS_IN_FLIGHT: '2000' });
    client = stockroom.grpcClient(SERVICE);
  });

  afterAll(async () => {
    await stockroom.close();
  });

  async function stockedTenant(product_id: string) {
    const tenant = uniqueTenant('coalesce');
    const token = await stockroom.token({ tenant, roles: ['admin'] });
    await call(client, 'CreateItem', { productId: product_id, sku: product_id, name: 'Flash sale' }, token);
    await call(client, 'RecordInbound', { productId: product_id, quantity: STOCK, reference: 'PO-1' }, token);
    return { tenant, token };
  }

  test('500 concurrent Reserves for 100 units: each answered as if alone, in arrival order', async () => {
    const { tenant, token } = await stockedTenant('HOT');
    const list = requests('HOT');
    const commits_before = await commits(stockroom);
    const answers = await Promise.all(list.map((request) => send(client, request, token)));
    // Far fewer transactions than calls: they were coalesced.
    expect(await commits(stockroom)).toBeLessThan(commits_before + CALLS / 2);
    const expected = oneAtATime(list);
    answers.forEach((answer, index) => expectAnswer(answer, expected[index], answers, list[index]));
    expect(answers.filter((answer) => answer.ok).length).toBeGreaterThan(STOCK / 3);
    await expectDatabaseAgrees(tenant, 'HOT', STOCK);
    await expectLifetimes(tenant, list, answers);
    // Live keys are exactly those of the successful calls (a refused call's claim is left expired: no record).
    const [keys] = await rawQuery<{ keys: string }>(`select count(*) as keys from idempotency_keys where tenant_id = $1 and expires_at > now()`, [tenant]);
    expect(Number(keys.keys)).toBe(new Set(list.filter((request, index) => request.idempotencyKey && expected[index].kind === 'ok').map((request) => request.idempotencyKey)).size);
  });

  test('a batch whose transaction times out on the row lock fails each of its calls; their retries succeed', async () => {
    const { tenant, token } = await stockedTenant('LOCKED');
    const list = Array.from({ length: 11 }, (_, i) => ({ items: [{ productId: 'LOCKED', quantity: 1 }], reference: `ORDER-${i}`, idempotencyKey: `key-${i}` }));
    const blocker = new pg.Client(connectionConfig(testDatabaseUrl()));
    await blocker.connect();
    const timeouts_before = await lockTimeouts(stockroom);
    let answers: Answer[];
    try {
      await blocker.query('begin');
      await blocker.query(`select 1 from inventory_items where tenant_id = $1 for update`, [tenant]);
      // The first waits on the lock alone; the others queue behind it and go as one batch.
      answers = await Promise.all(list.map((request) => send(client, request, token)));
    } finally {
      await blocker.query('rollback');
      await blocker.end();
    }
    for (const answer of answers) {
      expect(answer.ok).toBe(false);
      if (!answer.ok) {
        expect(answer.error.code).toBe(grpc.status.ABORTED);
        expect(answer.error.errorInfos).toHaveLength(1);
        expect(answer.error.errorInfo?.reason).toBe('LOCK_TIMEOUT');
      }
    }
    // Fewer transactions timed out than calls failed: the queued calls went together.
    expect(await lockTimeouts(stockroom)).toBeLessThan(timeouts_before + list.length);
    await expectDatabaseAgrees(tenant, 'LOCKED', 0);
    expect(await rawQuery(`select 1 from idempotency_keys where tenant_id = $1`, [tenant])).toHaveLength(0);

    const retries = await Promise.all(list.map((request) => send(client, request, token)));
    expect(retries.every((answer) => answer.ok)).toBe(true);
    expect(retries.map((answer) => (answer.ok ? Number(answer.response.items[0].reserved) : 0)).sort((a, b) => a - b)).toEqual(list.map((_, i) => i + 1));
    await expectDatabaseAgrees(tenant, 'LOCKED', list.length);
  });

  test('a queued Reserve whose deadline passes before its batch starts fails with DEADLINE_EXCEEDED and holds nothing', async () => {
    const { tenant, token } = await stockedTenant('LATE');
    const blocker = new pg.Client(connectionConfig(testDatabaseUrl()));
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query(`select 1 from inventory_items where tenant_id = $1 for update`, [tenant]);
      const first = send(client, { items: [{ productId: 'LATE', quantity: 1 }], reference: 'FIRST', idempotencyKey: 'first' }, token);
      const late = call(client, 'Reserve', { items: [{ productId: 'LATE', quantity: 1 }], reference: 'LATE', idempotencyKey: 'late' }, token, { deadline_ms: 200 }).then(
        () => undefined,
        (error: unknown) => errorDetails(error),
      );
      expect((await late)?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      await blocker.query('rollback');
      expect((await first).ok).toBe(true);
    } finally {
      await blocker.end();
    }
    expect(await rawQuery(`select reference from inventory_reservations where tenant_id = $1`, [tenant])).toEqual([{ reference: 'FIRST' }]);
  });
});

/** A sample of this server's /metrics, by its series text (name and labels). */
async function metric(stockroom: TestStockroom, series: string): Promise<number> {
  const text = await (await fetch(`${stockroom.url}/metrics`)).text();
  const line = text.split('\n').find((each) => each.startsWith(`${series} `));
  return Number(line?.split(' ')[1] ?? 0);
}

const lockTimeouts = (stockroom: TestStockroom) => metric(stockroom, 'stockroom_db_lock_timeouts_total');
const commits = (stockroom: TestStockroom) => metric(stockroom, 'stockroom_db_transactions_total{outcome="commit"}');

describe('three server processes', () => {
  const replicas: Replica[] = [];
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) replicas.push(await startReplica({ STOCKROOM_MAX_CALLS_IN_FLIGHT: '2000' }));
    await Promise.all(replicas.map(untilServing));
    const Inventory = serviceConstructor(SERVICE);
    for (const replica of replicas) clients.push(new Inventory(replica.address, grpc.credentials.createInsecure()));
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all(replicas.map(stopReplica));
  });

  test('500 concurrent Reserves for 100 units over three processes: one serial order, arrival order within each process', async () => {
    const tenant = uniqueTenant('coalesce-replicas');
    const token = await mintToken(loadConfig(REPLICA_ENVIRONMENT).auth, { tenant, roles: ['admin'], subject: 'replica-test' });
    await call(clients[0], 'CreateItem', { productId: 'HOT', sku: 'HOT', name: 'Flash sale' }, token);
    await call(clients[1], 'RecordInbound', { productId: 'HOT', quantity: STOCK, reference: 'PO-1' }, token);
    // Each process verifies the new token once first: calls that all miss its
    // cache verify concurrently and may finish out of their arrival order,
    // before they reach the lanes whose order this test checks.
    await Promise.all(clients.map((client) => call(client, 'GetItem', { productId: 'HOT' }, token)));
    // Each process gets every third call; a repeated call goes where its first went.
    const list = requests('HOT').map((request, index) => ({ request, replica: Math.floor(index / 10) % 3 }));
    const answers = await Promise.all(list.map(({ request, replica }) => send(clients[replica], request, token)));

    // Where each fresh call stood in the one serial order: the units reserved before it.
    const turns = answers.map((answer, index) => {
      const quantity = list[index].request.items[0].quantity;
      if (answer.ok) return { reserved_before: Number(answer.response.items[0].reserved) - quantity, ok: true, quantity };
      if (answer.error.errorInfo?.reason === 'INSUFFICIENT_STOCK') {
        expectShort(answer.error, quantity, Number(answer.error.errorInfo.metadata.available));
        return { reserved_before: STOCK - Number(answer.error.errorInfo.metadata.available), ok: false, quantity };
      }
      expect(answer.error.errorInfo?.reason).toBe('IDEMPOTENCY_KEY_REUSED');
      return undefined;
    });
    // Successes tile 0..100 exactly once (no oversell, no gap): one serial order exists.
    const fresh = new Map<number, number>();
    list.forEach(({ request }, index) => {
      const turn = turns[index];
      if (turn?.ok && !(request.idempotencyKey && list.findIndex((other) => other.request === request) < index)) fresh.set(turn.reserved_before, turn.quantity);
    });
    let reserved = 0;
    while (fresh.has(reserved)) reserved += fresh.get(reserved)!;
    expect(reserved).toBe(STOCK);
    expect([...fresh.values()].reduce((sum, quantity) => sum + quantity, 0)).toBe(STOCK);
    // Within each process, later calls never stood earlier in that order.
    for (let replica = 0; replica < 3; replica++) {
      const positions = turns.filter((turn, index) => turn !== undefined && list[index].replica === replica).map((turn) => turn!.reserved_before);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }
    await expectDatabaseAgrees(tenant, 'HOT', STOCK);
  });
});
