/**
 * A database outage as clients and operators see it: every call fails with
 * UNAVAILABLE (DATABASE_UNAVAILABLE), which clients may retry; health, for the
 * server and for each service, turns NOT_SERVING on the first failed call and
 * SERVING again as soon as the database answers; and the log says so once per
 * outage, not once per call. Health also answers per service by name.
 * Uses a PostgreSQL of its own, since it stops it and kills its connections.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded-postgres.js';
import { call, expectError, newTenant, startStockroom, type TestStockroom } from './support/harness.js';

const SERVICES = ['', 'stockroom.inventory.v1.InventoryService', 'stockroom.parts.v1.PartsService'];
const data_dir = `.data/test-outage-${process.pid}`;
let database: EmbeddedDatabase;
let stockroom: TestStockroom;
const log: Record<string, unknown>[] = [];

beforeAll(async () => {
  database = await startEmbeddedPostgres({ data_dir, port: 0, fresh: true });
  // Each Reserve its own transaction (no coalescing), so the three below are all mid-transaction in PostgreSQL when their backends die.
  stockroom = await startStockroom({ STOCKROOM_DATABASE_URL: database.url, STOCKROOM_LOCK_TIMEOUT_MS: '10000', STOCKROOM_RESERVE_BATCH_MAX: '1' }, { log });
});
afterAll(async () => {
  await stockroom.close();
  await database.stop();
  fs.rmSync(data_dir, { recursive: true, force: true });
});

async function statuses(): Promise<string[]> {
  const health = stockroom.grpcClient('grpc.health.v1.Health');
  return Promise.all(SERVICES.map(async (service) => (await call(health, 'check', { service })).status as string));
}

async function until(condition: () => Promise<boolean>, timeout_ms: number): Promise<number> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeout_ms) throw new Error(`not within ${timeout_ms} ms`);
    await sleep(25);
  }
  return Date.now() - started;
}

const outageLines = () => log.filter((line) => String(line.msg).startsWith('database unavailable'));
const recoveryLines = () => log.filter((line) => line.msg === 'database available again');

test('health answers per service: Check and Watch for each registered service, NOT_FOUND and SERVICE_UNKNOWN for others', async () => {
  const health = stockroom.grpcClient('grpc.health.v1.Health');
  expect(await statuses()).toEqual(['SERVING', 'SERVING', 'SERVING']);
  const unknown = await expectError(call(health, 'check', { service: 'stockroom.nothing.v1.NoService' }));
  expect(unknown.code).toBe(grpc.status.NOT_FOUND);
  const watch = (service: string) =>
    new Promise<string>((resolve, reject) => {
      const stream = (health as unknown as { watch(request: object): grpc.ClientReadableStream<{ status: string }> }).watch({ service });
      stream.once('data', (response) => {
        resolve(response.status);
        stream.cancel();
      });
      stream.once('error', (error: grpc.ServiceError) => (error.code === grpc.status.CANCELLED ? undefined : reject(error)));
    });
  expect(await watch('stockroom.parts.v1.PartsService')).toBe('SERVING');
  expect(await watch('stockroom.inventory.v1.InventoryService')).toBe('SERVING');
  expect(await watch('stockroom.nothing.v1.NoService')).toBe('SERVICE_UNKNOWN');
});

test('PostgreSQL stopped: calls are UNAVAILABLE DATABASE_UNAVAILABLE, health NOT_SERVING within a second, SERVING again after; one log line each way', async () => {
  const inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
  const parts = stockroom.grpcClient('stockroom.parts.v1.PartsService');
  const { token } = await newTenant(stockroom, inventory, 'outage');
  await call(inventory, 'createItem', { productId: 'OUT-1', sku: 'O1', name: 'Outage' }, token);
  const health = stockroom.grpcClient('grpc.health.v1.Health');
  const watch = (health as unknown as { watch(request: object): grpc.ClientReadableStream<{ status: string }> }).watch({ service: 'stockroom.inventory.v1.InventoryService' });
  const watched: string[] = [];
  watch.on('data', (response) => watched.push(response.status));
  watch.on('error', () => {});
  const warn_before = outageLines().length;

  const stopped_at = Date.now();
  await database.stop();
  const failures = await Promise.all(
    Array.from({ length: 20 }, (_, n) => expectError(call(n % 2 ? parts : inventory, n % 2 ? 'listParts' : 'getItem', n % 2 ? {} : { productId: 'OUT-1' }, token))),
  );
  for (const failure of failures) {
    expect(failure.code).toBe(grpc.status.UNAVAILABLE);
    expect(failure.errorInfos).toHaveLength(1);
    expect(failure.errorInfo?.reason).toBe('DATABASE_UNAVAILABLE');
    expect(failure.message).not.toMatch(/ECONNREFUSED|terminat|postgres/i);
  }
  expect(await statuses()).toEqual(['NOT_SERVING', 'NOT_SERVING', 'NOT_SERVING']);
  expect(Date.now() - stopped_at).toBeLessThan(1_000 + 2_000); // the stop itself takes a moment
  await until(async () => watched.includes('NOT_SERVING'), 1_000);
  expect(outageLines().length).toBe(warn_before + 1);
  expect(log.filter((line) => Number(line.level) >= 50)).toEqual([]);

  database = await startEmbeddedPostgres({ data_dir, port: database.port });
  const recovered_ms = await until(async () => (await statuses()).every((status) => status === 'SERVING'), 2_000);
  process.stdout.write(`outage: NOT_SERVING right after the first failed call; SERVING ${recovered_ms} ms after PostgreSQL was back\n`);
  expect(recovered_ms).toBeLessThan(1_000);
  await until(async () => watched.at(-1) === 'SERVING', 1_000);
  await expect(call(inventory, 'getItem', { productId: 'OUT-1' }, token)).resolves.toMatchObject({ item: { productId: 'OUT-1' } });
  expect(recoveryLines().length).toBeGreaterThanOrEqual(1);
  expect(outageLines().length).toBe(warn_before + 1);
  watch.cancel();
});

test("pg_terminate_backend on the service's connections mid-call: UNAVAILABLE DATABASE_UNAVAILABLE, then served again", async () => {
  const inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
  const { tenant, token } = await newTenant(stockroom, inventory, 'terminated');
  await call(inventory, 'createItem', { productId: 'TERM-1', sku: 'T1', name: 'Terminated' }, token);
  await call(inventory, 'recordInbound', { productId: 'TERM-1', quantity: '5', reference: 'PO' }, token);
  // Calls wait on a row lock held here, so they are mid-transaction when their backends die.
  const holder = new pg.Client({ connectionString: database.url });
  await holder.connect();
  await holder.query('begin');
  await holder.query('select 1 from inventory_items where tenant_id = $1 and product_id = $2 for update', [tenant, 'TERM-1']);
  const waiting = Array.from({ length: 3 }, (_, n) =>
    expectError(call(inventory, 'reserve', { items: [{ productId: 'TERM-1', quantity: '1' }], reference: `ORDER-${n}` }, token)),
  );
  // (pg_stat_activity is read once per transaction; the holder is in one, so clear its snapshot each time.)
  const lock_waiters = async () => (await holder.query(`select pg_stat_clear_snapshot(); select 1 from pg_stat_activity where wait_event_type = 'Lock'`) as unknown as pg.QueryResult[])[1].rowCount;
  await until(async () => (await lock_waiters()) === 3, 5_000);
  const { rowCount } = await holder.query(`select pg_terminate_backend(pid) from pg_stat_activity where pid <> pg_backend_pid() and backend_type = 'client backend'`);
  expect(rowCount).toBeGreaterThanOrEqual(3);
  for (const failure of await Promise.all(waiting)) {
    expect(failure.code).toBe(grpc.status.UNAVAILABLE);
    expect(failure.errorInfos).toHaveLength(1);
    expect(failure.errorInfo?.reason).toBe('DATABASE_UNAVAILABLE');
  }
  await holder.query('rollback');
  await holder.end();
  await until(async () => (await statuses()).every((status) => status === 'SERVING'), 1_000);
  await expect(call(inventory, 'getItem', { productId: 'TERM-1' }, token)).resolves.toMatchObject({ item: { productId: 'TERM-1' } });
  expect(log.filter((line) => Number(line.level) >= 50)).toEqual([]);
});
