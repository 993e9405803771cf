/**
 * The path past one server process (issue 10, item 10): three built servers
 * (`node dist/src/main.js`, as deployed) on one database, started together
 * (so they also race for the migration lock), and the last-unit race spread
 * over them. Correctness must come from the database, not from anything one
 * process holds: 60 Reserves of 1 against 10 units, exactly 10 succeed; the
 * same for parts held for work orders, whose expired holds all three
 * processes sweep and release exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { freePort } from '../src/db/embedded-postgres.js';
import { loadConfig } from '../src/server/config.js';
import { mintToken } from '../src/tools/token.js';
import { call, errorDetails, rawQuery, serviceConstructor, testDatabaseUrl, TEST_AUDIENCE, TEST_ISSUER, TEST_JWT_SECRET, uniqueTenant } from './support/harness.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const REPLICAS = 3;

interface Replica {
  readonly child: ChildProcess;
  readonly address: string;
  output: string;
}

const ENVIRONMENT = {
  STOCKROOM_DATABASE_URL: testDatabaseUrl(),
  STOCKROOM_JWT_SECRET: TEST_JWT_SECRET,
  STOCKROOM_JWT_AUDIENCE: TEST_AUDIENCE,
  STOCKROOM_JWT_ISSUER: TEST_ISSUER,
  STOCKROOM_HOST: '127.0.0.1',
  STOCKROOM_LOG_LEVEL: 'warn',
  STOCKROOM_DATABASE_POOL_MAX: '4',
  STOCKROOM_SHUTDOWN_GRACE_MS: '1000',
  // Every replica sweeps every 100 ms, so their sweeps of one hold overlap.
  STOCKROOM_HOLD_SWEEP_INTERVAL_MS: '100',
};

async function startReplica(): Promise<Replica> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/main.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...ENVIRONMENT, STOCKROOM_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const replica: Replica = { child, address: `127.0.0.1:${port}`, output: '' };
  const keep = (chunk: Buffer) => (replica.output = (replica.output + chunk.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return replica;
}

async function untilServing(replica: Replica): Promise<void> {
  const health = new (serviceConstructor('grpc.health.v1.Health'))(replica.address, grpc.credentials.createInsecure());
  try {
    for (const deadline = Date.now() + 60_000; ; ) {
      if (replica.child.exitCode !== null) throw new Error(`replica exited with ${replica.child.exitCode}:\n${replica.output}`);
      const status = await call(health, 'check', { service: '' }, undefined, { deadline_ms: 1_000 }).then((r) => r.status, () => undefined);
      if (status === 'SERVING') return;
      if (Date.now() > deadline) throw new Error(`replica not SERVING within 60 s:\n${replica.output}`);
      await sleep(200);
    }
  } finally {
    health.close();
  }
}

async function stop(replica: Replica): Promise<void> {
  if (replica.child.exitCode !== null) return;
  const exited = new Promise((resolve) => replica.child.once('exit', resolve));
  replica.child.kill('SIGTERM');
  const patience = new AbortController();
  await Promise.race([exited, sleep(10_000, undefined, { signal: patience.signal }).catch(() => {})]);
  patience.abort();
  if (replica.child.exitCode === null) replica.child.kill('SIGKILL');
}

const replicas: Replica[] = [];
const clients: grpc.Client[] = [];
const parts_clients: grpc.Client[] = [];

beforeAll(async () => {
  for (let i = 0; i < REPLICAS; i++) replicas.push(await startReplica());
  await Promise.all(replicas.map(untilServing));
  const Inventory = serviceConstructor('stockroom.inventory.v1.InventoryService');
  const Parts = serviceConstructor('stockroom.parts.v1.PartsService');
  for (const replica of replicas) {
    clients.push(new Inventory(replica.address, grpc.credentials.createInsecure()));
    parts_clients.push(new Parts(replica.address, grpc.credentials.createInsecure()));
  }
}, 120_000);

afterAll(async () => {
  for (const client of [...clients, ...parts_clients]) client.close();
  await Promise.all(replicas.map(stop));
});

async function adminOf(prefix: string): Promise<{ tenant: string; token: string }> {
  const tenant = uniqueTenant(prefix);
  return { tenant, token: await mintToken(loadConfig({ ...ENVIRONMENT }).auth, { tenant, roles: ['admin'], subject: 'replica-test' }) };
}

test('60 concurrent Reserves of 1 for the last 10 units, spread over three server processes: exactly 10 succeed', async () => {
  const { token } = await adminOf('replicas');
  await call(clients[0], 'CreateItem', { productId: 'LAST', sku: 'SKU-LAST', name: 'The last units', reorderPoint: 0 }, token);
  await call(clients[1], 'RecordInbound', { productId: 'LAST', quantity: 10, reference: 'PO-LAST' }, token);

  const outcomes = await Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      call(clients[i % REPLICAS], 'Reserve', { items: [{ productId: 'LAST', quantity: 1 }], reference: `ORDER-${i}` }, token).then(
        () => ({ replica: i % REPLICAS, ok: true as const }),
        (error) => ({ replica: i % REPLICAS, ok: false as const, error: errorDetails(error) }),
      ),
    ),
  );
  const succeeded = outcomes.filter((outcome) => outcome.ok);
  expect(succeeded).toHaveLength(10);
  for (const outcome of outcomes) {
    if (outcome.ok) continue;
    expect(outcome.error.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(outcome.error.errorInfo?.reason).toBe('INSUFFICIENT_STOCK');
  }
  // Every replica answered its share: 20 calls each.
  for (let replica = 0; replica < REPLICAS; replica++) expect(outcomes.filter((outcome) => outcome.replica === replica)).toHaveLength(20);

  // Each replica reads the same truth, and the records agree.
  for (const client of clients) {
    expect((await call(client, 'GetItem', { productId: 'LAST' }, token)).item).toMatchObject({ onHand: '10', reserved: '10', available: '0' });
  }
  const health = await call(clients[2], 'CheckInventoryHealth', {}, token);
  expect(health.healthy).toBe(true);
});

test('60 concurrent work-order holds of 1 on the last 10 units of a part, over three processes: exactly 10 hold, and each expired hold is released once', async () => {
  const { tenant, token } = await adminOf('replicas-parts');
  const { part } = await call(parts_clients[0], 'CreatePart', { part: { partNumber: 'P-LAST', name: 'The last bearings' } }, token);
  const { location } = await call(parts_clients[1], 'CreateLocation', { location: { site: 'MAIN', name: 'A' } }, token);
  await call(parts_clients[2], 'ReceiveParts', { partId: part.id, locationId: location.id, qty: '10', unitCost: '5' }, token);

  // Even-numbered work orders hold for 1 s, the others until released.
  const outcomes = await Promise.all(
    Array.from({ length: 60 }, (_, i) => {
      const request = { workOrderId: `WO-${i}`, partId: part.id, locationId: location.id, qty: '1', ...(i % 2 === 0 ? { ttl: { seconds: '1' } } : {}) };
      return call(parts_clients[i % REPLICAS], 'ReservePartsForWorkOrder', request, token).then(
        () => ({ expires: i % 2 === 0, ok: true as const }),
        (error) => ({ expires: i % 2 === 0, ok: false as const, error: errorDetails(error) }),
      );
    }),
  );
  const held = outcomes.filter((outcome) => outcome.ok);
  expect(held).toHaveLength(10);
  for (const outcome of outcomes) {
    if (!outcome.ok) expect([outcome.error.code, outcome.error.errorInfo?.reason]).toEqual([grpc.status.FAILED_PRECONDITION, 'INSUFFICIENT_STOCK']);
  }
  const expiring = held.filter((outcome) => outcome.expires).length;

  // All three replicas sweep; the expiring holds go back, each once.
  const on_hand = () => call(parts_clients[0], 'GetOnHand', { partId: part.id }, token).then((r) => r.onHand[0]);
  for (const until = Date.now() + 20_000; (await on_hand()).qtyReserved !== `${10 - expiring}.000` && Date.now() < until; ) await sleep(100);
  expect(await on_hand()).toMatchObject({ qtyOnHand: '10.000', qtyReserved: `${10 - expiring}.000`, qtyAvailable: `${expiring}.000` });
  const [totals] = await rawQuery<{ held: string; expired: string; expired_events: string }>(
    `select sum(qty_held)::int::text as held, sum(qty_expired)::int::text as expired,
       (select count(*) from events e where e.tenant_id = $1 and e.type = 'RESERVATION_EXPIRED')::text as expired_events
     from part_work_order_holds where tenant_id = $1`,
    [tenant],
  );
  expect(totals).toEqual({ held: String(10 - expiring), expired: String(expiring), expired_events: String(expiring) });
  expect((await call(parts_clients[1], 'CheckInventoryHealth', {}, token)).healthy).toBe(true);
});
