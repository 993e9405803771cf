/**
 * Idempotency storage that stays bounded (issue 10, item 5): a tenant's
 * transaction deletes only its own expired keys, and the retention sweep
 * clears a backlog of any size in bounded batches.
 */
import { TransactionRunner } from '../src/db/transaction.js';
import { purgeExpiredKeys } from '../src/shared/idempotency.js';
import { rawQuery, startStockroom, uniqueTenant, type TestStockroom } from './support/harness.js';

let stockroom: TestStockroom;

beforeAll(async () => {
  stockroom = await startStockroom();
});

afterAll(async () => {
  await stockroom?.close();
});

/** Inserts `count` keys for a tenant as the superuser; expired ones expired a day ago. */
async function insertKeys(tenant: string, count: number, expired: boolean): Promise<void> {
  await rawQuery(
    `insert into idempotency_keys (tenant_id, method, idempotency_key, request_hash, created_at, expires_at)
     select $1, 'test/Purge', $4 || n, '\\x00', now() - interval '2 days', now() + ($2::int * interval '1 day')
     from generate_series(1, $3::int) n`,
    [tenant, expired ? -1 : 1, count, expired ? 'expired-' : 'live-'],
  );
}

async function keysOf(tenant: string): Promise<number> {
  const [row] = await rawQuery<{ n: number }>(`select count(*)::int as n from idempotency_keys where tenant_id = $1`, [tenant]);
  return row.n;
}

test("tenant B's purge cannot delete tenant A's expired keys", async () => {
  const a = uniqueTenant('purge-a');
  const b = uniqueTenant('purge-b');
  await insertKeys(a, 3, true);
  await insertKeys(b, 2, true);
  await insertKeys(b, 1, false);
  // The foundation's policy let this statement delete every tenant's expired keys.
  const deleted = await rawQuery(`delete from idempotency_keys returning tenant_id`, [], { as_app_role: true, tenant: b });
  expect(deleted.map((row) => row.tenant_id)).toEqual([b, b]);
  // Declaring the sweep does not widen a tenant's reach either.
  const sweep = { 'stockroom.maintenance': 'idempotency_purge' };
  await insertKeys(b, 2, true);
  const swept = await rawQuery(`delete from idempotency_keys returning tenant_id`, [], { as_app_role: true, tenant: b, settings: sweep });
  expect(swept.map((row) => row.tenant_id)).toEqual([b, b]);
  expect(await keysOf(a)).toBe(3);
  expect(await keysOf(b)).toBe(1);
  // Without a tenant and without declaring the sweep, nothing is visible or deletable.
  expect(await rawQuery(`delete from idempotency_keys returning 1`, [], { as_app_role: true })).toEqual([]);
  expect(await keysOf(a)).toBe(3);
  // The sweep itself (no tenant, declared) does reach them.
  expect(await rawQuery(`delete from idempotency_keys where tenant_id = $1 returning 1`, [a], { as_app_role: true, settings: sweep })).toHaveLength(3);
});

test('a backlog larger than one batch is purged completely, in bounded batches, and live keys stay', async () => {
  const tenants = [uniqueTenant('backlog'), uniqueTenant('backlog'), uniqueTenant('backlog')];
  for (const tenant of tenants) await insertKeys(tenant, 900, true);
  await insertKeys(tenants[0], 5, false);
  const runner = new TransactionRunner(stockroom.app.database.orm, { lock_timeout_ms: 2_000, statement_timeout_ms: 15_000, retry_max: 2 });
  const started_ms = performance.now();
  const result = await purgeExpiredKeys(runner, 1_000);
  process.stdout.write(`purged ${result.purged} expired keys in ${result.batches} batches of at most 1,000 in ${Math.round(performance.now() - started_ms)} ms\n`);
  expect(result.complete).toBe(true);
  expect(result.purged).toBeGreaterThanOrEqual(2_700);
  expect(result.batches).toBeGreaterThanOrEqual(3);
  const [left] = await rawQuery<{ n: number }>(`select count(*)::int as n from idempotency_keys where expires_at < now()`);
  expect(left.n).toBe(0);
  expect(await keysOf(tenants[0])).toBe(5);
  expect(await keysOf(tenants[1])).toBe(0);
});

test('a sweep stops at its batch limit and says so', async () => {
  const tenant = uniqueTenant('limit');
  await insertKeys(tenant, 30, true);
  const runner = new TransactionRunner(stockroom.app.database.orm, { lock_timeout_ms: 2_000, statement_timeout_ms: 15_000, retry_max: 2 });
  const first = await purgeExpiredKeys(runner, 10, 2);
  expect(first).toEqual({ purged: 20, batches: 2, complete: false });
  const rest = await purgeExpiredKeys(runner, 10, 5);
  expect(rest.complete).toBe(true);
  expect(await keysOf(tenant)).toBe(0);
});
