/**
 * Issue 10, items 6 and 9: readers of both movement ledgers never miss a
 * row that commits late (polling after a position), and ids and positions
 * on the wire say nothing about other tenants' writes.
 */
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { connectionConfig } from '../src/db/session.js';
import { migrate } from '../src/db/migrate.js';
import { runtimeRoleFor } from '../src/db/runtime-role.js';
import { call, createScratchDatabase, expectError, newTenant, rawQuery, startStockroom, testDatabaseUrl, testRuntimeRole, type TenantCall, type TestStockroom } from './support/harness.js';
import { eventually } from './support/wait.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const POSITION = /^[A-Za-z0-9_-]{22}$/;

let stockroom: TestStockroom;
let inventory: grpc.Client;
let parts: grpc.Client;

beforeAll(async () => {
  stockroom = await startStockroom();
  inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
  parts = stockroom.grpcClient('stockroom.parts.v1.PartsService');
});

afterAll(async () => {
  await stockroom.close();
});

/** A writer holding a transaction open as the runtime role, in `tenant`. */
async function openWriter(tenant: string): Promise<pg.Client> {
  const client = new pg.Client(connectionConfig(testDatabaseUrl()));
  await client.connect();
  await client.query('begin');
  await client.query(`set local role ${pg.escapeIdentifier(testRuntimeRole())}`);
  // SET LOCAL rather than set_config(): Citus carries a SET LOCAL to the workers, where row-level security is.
  await client.query(`set local stockroom.tenant_id = ${pg.escapeLiteral(tenant)}`);
  await client.query(`set local stockroom.caller = 'slow'`);
  return client;
}

/**
 * Polls ListMovements after `after` until at least `expected` movements
 * arrived or 10 s passed: a movement is served once every transaction that
 * began before it has ended, and other test files write meanwhile.
 */
async function pollUntil(call: TenantCall, request: object, after: string, expected: number) {
  const movements: any[] = [];
  let position = after;
  await eventually(
    async () => {
      const polled = await call('listMovements', { ...request, afterPosition: position, pageSize: 2 });
      movements.push(...polled.movements);
      position = polled.lastPosition;
      return movements.length;
    },
    (count) => count >= expected,
  );
  return { movements, position };
}

test('inventory: a movement that commits late is not skipped by a poller that already passed the ones after it', async () => {
  const t = await newTenant(stockroom, inventory, 'ledger-late-inv');
  await t.call('createItem', { productId: 'EARLY', name: 'Early' });
  const late = (await t.call('createItem', { productId: 'LATE', name: 'Late' })).item;
  const first = await pollUntil(t.call, {}, '', 0);
  expect(first.movements).toEqual([]);
  expect(first.position).toMatch(POSITION);

  const slow = await openWriter(t.tenant);
  try {
    // Takes its transaction id (and created_at) first, commits last.
    await slow.query(`insert into inventory_movements (tenant_id, item_id, type, quantity, reference, created_by) values ($1, $2, 'INBOUND', 4, 'slow', 'slow')`, [
      t.tenant,
      late.id,
    ]);
    const quick = (await t.call('recordInbound', { productId: 'EARLY', quantity: 5, reference: 'quick' })).movement;
    expect(quick.id).toMatch(UUID_V7);
    expect(quick.position).toMatch(POSITION);
    // To the microsecond, as PostgreSQL stored it.
    const [stored] = await rawQuery<{ us: string }>(`select (extract(epoch from created_at) * 1000000)::int8::text as us from inventory_movements where public_id = $1`, [
      quick.id,
    ]);
    expect(BigInt(quick.createTime.seconds) * 1_000_000n + BigInt(quick.createTime.nanos / 1000)).toBe(BigInt(stored.us));
    // Committed, but the open writer's movement will sort before it: not served yet.
    const meanwhile = await t.call('listMovements', { afterPosition: first.position });
    expect(meanwhile.movements).toEqual([]);
    // Paging by time shows it already, ahead of the open one: what a time cursor would skip.
    expect((await t.call('listMovements', {})).movements.map((m: any) => m.reference)).toEqual(['quick']);
    await slow.query('commit');
  } finally {
    await slow.end();
  }
  const polled = await pollUntil(t.call, {}, first.position, 2);
  expect(polled.movements.map((m: any) => [m.reference, m.productId, m.quantity])).toEqual([
    ['slow', 'LATE', '4'],
    ['quick', 'EARLY', '5'],
  ]);
  // The position only grows: nothing more after the last one, and the last movement's position resumes the same way.
  expect((await t.call('listMovements', { afterPosition: polled.position })).movements).toEqual([]);
  expect((await t.call('listMovements', { afterPosition: polled.movements[1].position })).movements).toEqual([]);
  expect((await t.call('listMovements', { afterPosition: polled.movements[0].position })).movements.map((m: any) => m.reference)).toEqual(['quick']);
  // Filters apply to polls too.
  expect((await pollUntil(t.call, { productId: 'LATE' }, '', 1)).movements.map((m: any) => m.reference)).toEqual(['slow']);
});

test('parts: a movement that commits late is not skipped by a poller that already passed the ones after it', async () => {
  const t = await newTenant(stockroom, parts, 'ledger-late-parts');
  const part = (await t.call('createPart', { part: { partNumber: 'P-1', name: 'Pump' } })).part;
  const [l1, l2] = [
    (await t.call('createLocation', { location: { site: 'S', name: 'L1' } })).location,
    (await t.call('createLocation', { location: { site: 'S', name: 'L2' } })).location,
  ];
  const received = await t.call('receiveParts', { partId: part.id, locationId: l1.id, qty: '5', unitCost: '2' });
  const first = await pollUntil(t.call, {}, '', 1);
  expect(first.movements.map((m: any) => m.id)).toEqual(received.movementIds);

  const slow = await openWriter(t.tenant);
  try {
    const layer = received.allocations[0].batchId;
    await slow.query(
      `insert into part_movements (tenant_id, type, part_id, location_id, batch_id, from_location_id, qty_delta, unit_cost, reason, created_by)
       values ($1, 'ADJUSTMENT', $2, $3, $4, $3, -1, 2, 'slow', 'slow')`,
      [t.tenant, part.id, l1.id, layer],
    );
    await t.call('receiveParts', { partId: part.id, locationId: l2.id, qty: '3', unitCost: '2', receiptId: 'quick' });
    const meanwhile = await t.call('listMovements', { afterPosition: first.position });
    expect(meanwhile.movements).toEqual([]);
    await slow.query('commit');
  } finally {
    await slow.end();
  }
  const polled = await pollUntil(t.call, {}, first.position, 2);
  expect(polled.movements.map((m: any) => [m.type, m.reason || m.receiptId, m.qtyDelta])).toEqual([
    ['MOVEMENT_TYPE_ADJUSTMENT', 'slow', '-1.000'],
    ['MOVEMENT_TYPE_RECEIVE', 'quick', '3.000'],
  ]);
  expect((await t.call('listMovements', { afterPosition: polled.position })).movements).toEqual([]);
});

test('a poll refuses a position it did not hand out, and a page token beside it', async () => {
  const t = await newTenant(stockroom, inventory, 'ledger-bad-position');
  for (const afterPosition of ['1-2', 'x'.repeat(22), '!'.repeat(22), 'AAAAAAAAAAAAAAAAAAAAAAAA']) {
    const error = await expectError(t.call('listMovements', { afterPosition }));
    expect([afterPosition, grpc.status[error.code]]).toEqual([afterPosition, 'INVALID_ARGUMENT']);
  }
  const both = await expectError(t.call('listMovements', { afterPosition: '', pageToken: 'abc' }));
  expect(both.badRequest?.fieldViolations.map((violation) => violation.field)).toContain('page_token');
});

test('ids on the wire are UUIDv7s that do not count other tenants\' writes; events carry the same ids', async () => {
  const a = await newTenant(stockroom, inventory, 'ledger-ids-a');
  const b = await newTenant(stockroom, inventory, 'ledger-ids-b');
  for (const t of [a, b]) await t.call('createItem', { productId: 'SKU', name: 'Thing' });
  const ids: string[] = [];
  ids.push((await a.call('recordInbound', { productId: 'SKU', quantity: 1 })).movement.id);
  for (let write = 0; write < 5; write++) await b.call('recordInbound', { productId: 'SKU', quantity: 1 });
  ids.push((await a.call('recordInbound', { productId: 'SKU', quantity: 1 })).movement.id);
  for (const id of ids) expect(id).toMatch(UUID_V7);
  // Only the time (ms, as create_time says) and random bits: nothing that grows with b's writes.
  const listed = (await a.call('listMovements', {})).movements;
  expect(listed.map((m: any) => m.id).sort()).toEqual([...ids].sort());
  const events = stockroom.grpcClient('stockroom.events.v1.EventService');
  // Events are listed once every older transaction has ended; other test files' may still be open.
  const listEvents = () => call(events, 'ListEvents', { types: ['EVENT_TYPE_STOCK_RECEIVED'] }, a.token).then((page) => page.events);
  const received = await eventually(listEvents, (listed: any[]) => listed.length >= ids.length);
  expect(received.flatMap((event: any) => event.movementIds).sort()).toEqual([...ids].sort());

  const p = await newTenant(stockroom, parts, 'ledger-ids-parts');
  const part = (await p.call('createPart', { part: { partNumber: 'P', name: 'P' } })).part;
  const location = (await p.call('createLocation', { location: { site: 'S', name: 'L' } })).location;
  await p.call('receiveParts', { partId: part.id, locationId: location.id, qty: '5', unitCost: '1' });
  const issued = await p.call('issueToWorkOrder', { workOrderId: 'WO-1', partId: part.id, locationId: location.id, qty: '2' });
  for (const id of [...issued.movementIds, ...issued.workOrderLineIds]) expect(id).toMatch(UUID_V7);
  const lines = (await p.call('getWorkOrderParts', { workOrderId: 'WO-1' })).lines;
  expect(lines.map((line: any) => [line.id, line.movementId])).toEqual([[issued.workOrderLineIds[0], issued.movementIds[0]]]);
});

test('the runtime role cannot write a position or an id (PostgreSQL refuses the column)', async () => {
  const t = await newTenant(stockroom, inventory, 'ledger-forged');
  const item = (await t.call('createItem', { productId: 'SKU', name: 'Thing' })).item;
  const forgeries = [
    [`insert into inventory_movements (tenant_id, item_id, type, quantity, created_by, xid) values ($1, $2, 'INBOUND', 1, 'x', '0')`, [t.tenant, item.id]],
    [`insert into inventory_movements (tenant_id, item_id, type, quantity, created_by, public_id) values ($1, $2, 'INBOUND', 1, 'x', gen_random_uuid())`, [t.tenant, item.id]],
    [`update inventory_movements set xid = '0'`, []],
  ] as const;
  for (const [text, params] of forgeries) {
    await expect(rawQuery(text, [...params], { as_app_role: true, tenant: t.tenant })).rejects.toMatchObject({ code: '42501' });
  }
});

test('migration 0008 gives existing movements, lines and events public ids and the origin position', async () => {
  const scratch = await createScratchDatabase('ledger_backfill');
  try {
    await migrate(scratch.url, { to: '0012_work_order_hold_commit_events' });
    const client = new pg.Client(connectionConfig(scratch.url));
    await client.connect();
    try {
      await client.query('begin');
      await client.query(`set local role ${pg.escapeIdentifier(runtimeRoleFor(scratch.url))}`);
      await client.query(`select set_config('stockroom.tenant_id', 'old', true)`);
      await client.query(`insert into inventory_items (tenant_id, id, product_id, name) values ('old', '00000000-0000-4000-8000-000000000001', 'SKU', 'Thing')`);
      await client.query(`insert into inventory_movements (tenant_id, item_id, type, quantity, created_by)
        select 'old', '00000000-0000-4000-8000-000000000001', 'INBOUND', 2, 'seed' from generate_series(1, 3)`);
      await client.query(`insert into parts (tenant_id, id, part_number, name) values ('old', '00000000-0000-4000-8000-000000000002', 'P', 'P')`);
      await client.query(`insert into locations (tenant_id, id, site, name) values ('old', '00000000-0000-4000-8000-000000000003', 'S', 'L')`);
      const place = `'00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003'`;
      await client.query(`insert into part_balances (tenant_id, part_id, location_id) values ('old', ${place})`);
      await client.query(`insert into part_batches (tenant_id, id, part_id, location_id, qty_received, unit_cost, received_at)
        values ('old', '00000000-0000-4000-8000-000000000004', ${place}, 5, 1, now())`);
      await client.query(`insert into part_movements (tenant_id, type, part_id, location_id, batch_id, to_location_id, qty_delta, unit_cost, created_by)
        values ('old', 'RECEIVE', ${place}, '00000000-0000-4000-8000-000000000004', '00000000-0000-4000-8000-000000000003', 5, 1, 'seed')`);
      await client.query(`with m as (
          insert into part_movements (tenant_id, type, part_id, location_id, batch_id, from_location_id, qty_delta, unit_cost, work_order_id, created_by)
          values ('old', 'ISSUE', ${place}, '00000000-0000-4000-8000-000000000004', '00000000-0000-4000-8000-000000000003', -2, 1, 'WO', 'seed') returning id)
        insert into work_order_lines (tenant_id, work_order_id, part_id, location_id, batch_id, movement_id, qty_used, unit_cost_snapshot, total_cost)
        select 'old', 'WO', ${place}, '00000000-0000-4000-8000-000000000004', m.id, 2, 1, 2 from m`);
      await client.query('commit');
    } finally {
      await client.end();
    }
    await migrate(scratch.url);

    const admin = new pg.Client(connectionConfig(scratch.url));
    await admin.connect();
    try {
      const ledgers = await admin.query(`
        select 'inventory' as ledger, public_id::text, xid::text, floor(extract(epoch from created_at) * 1000)::int8 as created_ms from inventory_movements
        union all select 'parts', public_id::text, xid::text, floor(extract(epoch from created_at) * 1000)::int8 from part_movements
        union all select 'lines', public_id::text, null, floor(extract(epoch from created_at) * 1000)::int8 from work_order_lines`);
      expect(ledgers.rows.map((row) => row.ledger).sort()).toEqual(['inventory', 'inventory', 'inventory', 'lines', 'parts', 'parts']);
      for (const row of ledgers.rows) {
        expect(row.public_id).toMatch(UUID_V7);
        // The UUID's time is the row's created_at, so old and new ids sort alike.
        expect(BigInt(`0x${row.public_id.replace(/-/g, '').slice(0, 12)}`)).toBe(BigInt(row.created_ms));
        if (row.ledger !== 'lines') expect(row.xid).toBe('0');
      }
      const events = await admin.query(`select movement_ids::text[] as ids from events where type in ('STOCK_RECEIVED', 'PARTS_RECEIVED', 'PARTS_ISSUED') order by id`);
      const known = new Set(ledgers.rows.filter((row) => row.ledger !== 'lines').map((row) => row.public_id));
      expect(events.rows).toHaveLength(5);
      for (const row of events.rows) {
        expect(row.ids).toHaveLength(1);
        expect(known.has(row.ids[0])).toBe(true);
      }
    } finally {
      await admin.end();
    }
  } finally {
    await scratch.drop();
  }
});
