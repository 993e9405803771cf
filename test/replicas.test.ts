/**
 * The path past one server process (issue 10, item 10): three built servers
 * (`node dist/src/main.js`, as deployed) on one database, started together
 * (so they also race for the migration lock), and the last-unit race spread
 * over them. Correctness must come from the database, not from anything one
 * process holds: 60 Reserves of 1 against 10 units, exactly 10 succeed; the
 * same for parts held for work orders, whose expired holds all three
 * processes sweep and release exactly once.
 */
import * as grpc from '@grpc/grpc-js';
import { loadConfig } from '../src/server/config.js';
import { mintToken } from '../src/tools/token.js';
import { call, errorDetails, rawQuery, serviceConstructor, uniqueTenant } from './support/harness.js';
import { REPLICA_ENVIRONMENT, startReplica as startWith, stopReplica as stop, untilServing, type Replica } from './support/replicas.js';
import { eventually } from './support/wait.js';

const REPLICAS = 3;

const ENVIRONMENT = {
  ...REPLICA_ENVIRONMENT,
  // Every replica sweeps every 100 ms, so their sweeps of one hold overlap.
  STOCKROOM_HOLD_SWEEP_INTERVAL_MS: '100',
};

const startReplica = () => startWith(ENVIRONMENT);

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

  // Even-numbered work orders hold for an hour, the others until released.
  const outcomes = await Promise.all(
    Array.from({ length: 60 }, (_, i) => {
      const request = { workOrderId: `WO-${i}`, partId: part.id, locationId: location.id, qty: '1', ...(i % 2 === 0 ? { ttl: { seconds: '3600' } } : {}) };
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

  // The hour passes (moved forward in the database, so a slow machine cannot
  // expire a hold during the race); all three replicas sweep, and the
  // expiring holds go back, each once.
  await rawQuery(`update part_work_order_holds set expires_at = now() where tenant_id = $1 and expires_at is not null`, [tenant]);
  const on_hand = () => call(parts_clients[0], 'GetOnHand', { partId: part.id }, token).then((r) => r.onHand[0]);
  expect(await eventually(on_hand, (row) => row.qtyReserved === `${10 - expiring}.000`, { timeout_ms: 20_000, interval_ms: 100 })).toMatchObject({ qtyOnHand: '10.000', qtyReserved: `${10 - expiring}.000`, qtyAvailable: `${expiring}.000` });
  const [totals] = await rawQuery<{ held: string; expired: string; expired_events: string }>(
    `select sum(qty_held)::int::text as held, sum(qty_expired)::int::text as expired,
       (select count(*) from events e where e.tenant_id = $1 and e.type = 'RESERVATION_EXPIRED')::text as expired_events
     from part_work_order_holds where tenant_id = $1`,
    [tenant],
  );
  expect(totals).toEqual({ held: String(10 - expiring), expired: String(expiring), expired_events: String(expiring) });
  expect((await call(parts_clients[1], 'CheckInventoryHealth', {}, token)).healthy).toBe(true);
});
