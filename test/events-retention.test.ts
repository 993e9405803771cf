/**
 * Retention of the outbox (issue 12): events older than the retention
 * period are purged in bounded batches, across tenants, and events a NATS
 * relay has not published yet are kept whatever their age.
 */
import { TransactionRunner } from '../src/db/transaction.js';
import { purgeEvents } from '../src/events/retention.js';
import { rawQuery, startStockroom, uniqueTenant, type TestStockroom } from './support/harness.js';

let stockroom: TestStockroom;
let runner: TransactionRunner;

beforeAll(async () => {
  stockroom = await startStockroom();
  runner = new TransactionRunner(stockroom.app.database.orm, { lock_timeout_ms: 2_000, statement_timeout_ms: 15_000, retry_max: 2 });
});

afterAll(async () => {
  await stockroom.close();
});

async function seed(tenant: string, count: number, age_hours: number): Promise<void> {
  await rawQuery(
    `insert into events (tenant_id, type, product_id, item_id, caller, created_at)
     select $1, 'ITEM_UPDATED', 'P-' || g, gen_random_uuid(), 'seed', now() - make_interval(hours => $3::int) from generate_series(1, $2::int) g`,
    [tenant, count, age_hours],
  );
}

async function counts(tenants: string[]): Promise<number[]> {
  const rows = await rawQuery<{ tenant_id: string; n: string }>(`select tenant_id, count(*)::text as n from events where tenant_id = any($1) group by tenant_id`, [tenants]);
  return tenants.map((tenant) => Number(rows.find((row) => row.tenant_id === tenant)?.n ?? 0));
}

test('old events of every tenant go in bounded batches; recent ones stay', async () => {
  const [a, b] = [uniqueTenant('retention'), uniqueTenant('retention')];
  await seed(a, 2_500, 24 * 40);
  await seed(b, 700, 24 * 40);
  await seed(a, 30, 1);
  const result = await purgeEvents(runner, { retention_hours: 24 * 30, batch_rows: 1_000 });
  expect(result.complete).toBe(true);
  expect(result.purged).toBeGreaterThanOrEqual(3_200);
  expect(result.batches).toBeGreaterThanOrEqual(4);
  expect(await counts([a, b])).toEqual([30, 0]);
});

test('a sweep stops at its batch limit and the next one continues', async () => {
  const tenant = uniqueTenant('retention-limit');
  await seed(tenant, 1_500, 24 * 40);
  const first = await purgeEvents(runner, { retention_hours: 24 * 30, batch_rows: 500, batches_max: 2 });
  expect(first).toMatchObject({ complete: false, batches: 2, purged: 1_000 });
  const second = await purgeEvents(runner, { retention_hours: 24 * 30, batch_rows: 500 });
  expect(second.complete).toBe(true);
  expect(await counts([tenant])).toEqual([0]);
});

test('events the relay has not published are kept, however old', async () => {
  const tenant = uniqueTenant('retention-relay');
  await seed(tenant, 10, 24 * 40);
  // A relay's position is its node's (migration 0015a: on Citus, the node of the tenant's shard).
  const [{ node, xid, id }] = await rawQuery<{ node: number; xid: string; id: string }>(
    `select stockroom_node_group() as node, xid::text, id::text from events where tenant_id = $1 order by xid, id offset 3 limit 1`,
    [tenant],
  );
  const relay = `retention_${Math.random().toString(36).slice(2, 8)}`;
  await rawQuery(`insert into event_relays (name, node, xid, id) values ($1, $2, $3::xid8, $4::bigint)`, [relay, node, xid, id]);
  await purgeEvents(runner, { retention_hours: 24 * 30, relay_name: relay });
  expect(await counts([tenant])).toEqual([6]);
});
