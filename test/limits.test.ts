/**
 * The bounds every call lives within: lock waits end in ABORTED, calls without
 * a deadline get the default one, and longer deadlines are cut to the maximum.
 * A row lock held by another connection makes a call wait on purpose.
 */
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { connectionConfig } from '../src/db/session.js';
import { call, expectError, startStockroom, testDatabaseUrl, uniqueTenant, type TestStockroom } from './support/harness.js';

/** Holds FOR UPDATE on one inventory item until released. */
async function holdItemLock(tenant: string, product_id: string): Promise<() => Promise<void>> {
  const client = new pg.Client(connectionConfig(testDatabaseUrl()));
  await client.connect();
  await client.query('begin');
  const { rowCount } = await client.query('select 1 from inventory_items where tenant_id = $1 and product_id = $2 for update', [tenant, product_id]);
  expect(rowCount).toBe(1);
  return async () => {
    await client.query('rollback');
    await client.end();
  };
}

async function withLockedItem(environment: Record<string, string>, check: (stockroom: TestStockroom, token: string) => Promise<void>) {
  const stockroom = await startStockroom(environment);
  const tenant = uniqueTenant('limits');
  const token = await stockroom.token({ tenant, roles: ['admin'] });
  const inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
  await call(inventory, 'createItem', { productId: 'LOCKED', sku: 'L', name: 'Locked' }, token);
  await call(inventory, 'recordInbound', { productId: 'LOCKED', quantity: '5', reference: 'PO' }, token);
  const release = await holdItemLock(tenant, 'LOCKED');
  try {
    await check(stockroom, token);
  } finally {
    await release();
    await stockroom.close();
  }
}

const reserve = { items: [{ productId: 'LOCKED', quantity: '1' }], reference: 'ORDER-LOCKED' };

test('a lock wait past STOCKROOM_LOCK_TIMEOUT_MS is ABORTED with reason LOCK_TIMEOUT', async () => {
  await withLockedItem({ STOCKROOM_LOCK_TIMEOUT_MS: '200' }, async (stockroom, token) => {
    const inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
    const error = await expectError(call(inventory, 'reserve', reserve, token));
    expect(error.code).toBe(grpc.status.ABORTED);
    expect(error.errorInfos).toHaveLength(1);
    expect(error.errorInfo?.reason).toBe('LOCK_TIMEOUT');
    expect(error.errorInfo?.metadata.lockTimeoutMs).toBe('200');
  });
});

test('a call that sends no deadline gets STOCKROOM_DEFAULT_DEADLINE_MS', async () => {
  await withLockedItem({ STOCKROOM_LOCK_TIMEOUT_MS: '5000', STOCKROOM_DEFAULT_DEADLINE_MS: '300' }, async (stockroom, token) => {
    const inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
    const started = Date.now();
    const error = await expectError(call(inventory, 'reserve', reserve, token, { deadline_ms: 0 }));
    expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    // The one error path: a deadline carries its ErrorInfo like every error.
    expect(error.errorInfos.map((info) => info.reason)).toEqual(['DEADLINE_EXCEEDED']);
    // The statement waiting on the lock is cancelled, not left to lock_timeout.
    expect(Date.now() - started).toBeLessThan(4_000);
  });
});

test('a deadline longer than STOCKROOM_MAX_DEADLINE_MS is cut to it', async () => {
  await withLockedItem({ STOCKROOM_LOCK_TIMEOUT_MS: '5000', STOCKROOM_DEFAULT_DEADLINE_MS: '300', STOCKROOM_MAX_DEADLINE_MS: '400' }, async (stockroom, token) => {
    const inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
    const started = Date.now();
    const error = await expectError(call(inventory, 'reserve', reserve, token, { deadline_ms: 30_000 }));
    expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    // The one error path: a deadline carries its ErrorInfo like every error.
    expect(error.errorInfos.map((info) => info.reason)).toEqual(['DEADLINE_EXCEEDED']);
    // Ended by the server's cut, long before the client's own 30 s deadline
    // and before the 5 s lock timeout.
    expect(Date.now() - started).toBeLessThan(4_000);
  });
});
