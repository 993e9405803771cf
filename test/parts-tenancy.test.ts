/**
 * Tenants of the parts store are invisible to each other, through every RPC
 * and in the database (RLS), and every movement names its author. Roles
 * decide who may read, operate and administer.
 */
import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { call, expectError, rawQuery, startStockroom, uniqueTenant, type TestStockroom, type TenantCall } from './support/harness.js';

const SERVICE = 'stockroom.parts.v1.PartsService';

let stockroom: TestStockroom;
let client: grpc.Client;

beforeAll(async () => {
  stockroom = await startStockroom();
  client = stockroom.grpcClient(SERVICE);
});

afterAll(async () => {
  await stockroom?.close();
});


async function as(tenant: string, sub: string, role: 'viewer' | 'operator' | 'admin' = 'admin'): Promise<TenantCall> {
  const token = await stockroom.token({ tenant, roles: [role], sub });
  return (method, request) => call(client, method, request, token);
}

describe('tenant isolation', () => {
  it('tenant B cannot list, read, issue from or reconcile tenant A\'s parts, and never collides with A\'s part numbers', async () => {
    const tenant_a = uniqueTenant('tenant-a');
    const tenant_b = uniqueTenant('tenant-b');
    const alice = await as(tenant_a, 'alice');
    const bob = await as(tenant_b, 'bob');
    const { part } = await alice('CreatePart', { part: { partNumber: 'P-100', name: 'Pump seal', category: 'seals' } });
    const { location } = await alice('CreateLocation', { location: { site: 'MAIN', name: 'A' } });
    await alice('CreateLocation', { location: { site: 'MAIN', name: 'B' } });
    const received = await alice('ReceiveParts', { partId: part.id, locationId: location.id, qty: '10', unitCost: '7', idempotencyKey: 'shared-key' });
    await alice('IssueToWorkOrder', { workOrderId: 'WO-A', partId: part.id, locationId: location.id, qty: '2' });

    // Reads: nothing of A is visible to B.
    expect((await expectError(bob('GetPart', { partId: part.id }))).errorInfo?.reason).toBe('PART_NOT_FOUND');
    expect((await expectError(bob('GetLocation', { locationId: location.id }))).errorInfo?.reason).toBe('LOCATION_NOT_FOUND');
    expect((await bob('ListParts', {})).parts).toEqual([]);
    expect((await bob('ListParts', { text: 'P-100' })).parts).toEqual([]);
    expect((await bob('ListLocations', {})).locations).toEqual([]);
    expect((await bob('GetOnHand', {})).onHand).toEqual([]);
    expect((await bob('GetOnHand', { partId: part.id })).onHand).toEqual([]);
    expect((await bob('ListBatches', { includeEmpty: true })).batches).toEqual([]);
    expect((await bob('ListMovements', {})).movements).toEqual([]);
    expect((await bob('ListMovements', { workOrderId: 'WO-A' })).movements).toEqual([]);
    expect(await bob('GetWorkOrderParts', { workOrderId: 'WO-A' })).toMatchObject({ lines: [], lineCount: '0', totalPartsCost: '0.0000000', parts: [] });
    expect((await expectError(bob('GetLocationsOnHand', { partId: part.id }))).code).toBe(status.NOT_FOUND);
    expect((await bob('Reconcile', {})).rows).toEqual([]);
    expect((await bob('Reconcile', { partId: part.id })).rows).toEqual([]);
    expect(await bob('CheckInventoryHealth', {})).toMatchObject({ healthy: true, fifoMovementsChecked: '0' });

    // Writes: A's ids do not exist for B.
    const issue = await expectError(bob('IssueToWorkOrder', { workOrderId: 'WO-B', partId: part.id, locationId: location.id, qty: '1' }));
    expect(issue).toMatchObject({ code: status.NOT_FOUND, errorInfo: expect.objectContaining({ reason: 'PART_NOT_FOUND' }) });
    expect((await expectError(bob('ReceiveParts', { partId: part.id, locationId: location.id, qty: '1', unitCost: '1' }))).code).toBe(status.NOT_FOUND);
    expect((await expectError(bob('UpdatePart', { part: { id: part.id, name: 'mine' }, updateMask: { paths: ['name'] } }))).code).toBe(status.NOT_FOUND);
    expect((await expectError(bob('DeletePart', { partId: part.id }))).code).toBe(status.NOT_FOUND);
    expect((await expectError(bob('ReturnToVendor', { partId: part.id, locationId: location.id, qty: '1', batchId: received.batch.id }))).code).toBe(status.NOT_FOUND);

    // Unique keys are per tenant: B's P-100, MAIN/A and idempotency key are B's own.
    const own = await bob('CreatePart', { part: { partNumber: 'P-100', name: 'Something else' } });
    expect(own.part.id).not.toBe(part.id);
    const own_location = await bob('CreateLocation', { location: { site: 'MAIN', name: 'A' } });
    const own_receipt = await bob('ReceiveParts', { partId: own.part.id, locationId: own_location.location.id, qty: '1', unitCost: '1', idempotencyKey: 'shared-key' });
    expect(own_receipt.batch.id).not.toBe(received.batch.id);
    expect((await bob('ListParts', {})).parts.map((p: any) => p.id)).toEqual([own.part.id]);

    // A's page token means nothing to B.
    const page = await alice('ListLocations', { pageSize: 1 });
    expect(page.nextPageToken).not.toBe('');
    const foreign = await expectError(bob('ListLocations', { pageSize: 1, pageToken: page.nextPageToken }));
    expect(foreign).toMatchObject({ code: status.INVALID_ARGUMENT, errorInfo: expect.objectContaining({ reason: 'INVALID_PAGE_TOKEN' }) });

    // A is untouched.
    expect((await alice('GetOnHand', { partId: part.id })).onHand[0].qtyOnHand).toBe('8.000');
    expect((await alice('GetPart', { partId: part.id })).part.name).toBe('Pump seal');

    // Row-level security is the second line of defence: the service role with B's tenant sees no row of A.
    for (const table of ['parts', 'locations', 'part_balances', 'part_batches', 'part_movements', 'work_order_lines']) {
      const [row] = await rawQuery<{ rows: string }>(`select count(*)::text as rows from ${table} where tenant_id = $1`, [tenant_a], {
        as_app_role: true,
        tenant: tenant_b,
      });
      expect(row.rows).toBe('0');
    }
  });

  it('records the caller\'s sub as the author of every movement', async () => {
    const tenant = uniqueTenant('authors');
    const alice = await as(tenant, 'alice');
    const dave = await as(tenant, 'dave@example.com', 'operator');
    const { part } = await alice('CreatePart', { part: { partNumber: 'P-AUTH', name: 'Belt' } });
    const { location: a } = await alice('CreateLocation', { location: { site: 'S', name: 'A' } });
    const { location: b } = await alice('CreateLocation', { location: { site: 'S', name: 'B' } });
    await alice('ReceiveParts', { partId: part.id, locationId: a.id, qty: '5', unitCost: '1' });
    await dave('IssueToWorkOrder', { workOrderId: 'WO-D', partId: part.id, locationId: a.id, qty: '2' });
    await dave('TransferBetweenLocations', { partId: part.id, fromLocationId: a.id, toLocationId: b.id, qty: '1' });
    await alice('AdjustStock', { partId: part.id, locationId: b.id, qtyDelta: '-1', reason: 'lost' });
    const { movements } = await alice('ListMovements', { partId: part.id });
    expect(movements.map((m: any) => [m.type, m.createdBy])).toEqual([
      ['MOVEMENT_TYPE_ADJUSTMENT', 'alice'],
      expect.arrayContaining(['dave@example.com']),
      expect.arrayContaining(['dave@example.com']),
      ['MOVEMENT_TYPE_ISSUE', 'dave@example.com'],
      ['MOVEMENT_TYPE_RECEIVE', 'alice'],
    ]);
  });
});

describe('roles', () => {
  it('viewers read, operators move stock, admins change the catalog, adjust and reconcile', async () => {
    const tenant = uniqueTenant('roles');
    const admin = await as(tenant, 'root');
    const operator = await as(tenant, 'op', 'operator');
    const viewer = await as(tenant, 'eye', 'viewer');
    const { part } = await admin('CreatePart', { part: { partNumber: 'P-ROLE', name: 'Valve' } });
    const { location } = await admin('CreateLocation', { location: { site: 'S', name: 'A' } });

    await operator('ReceiveParts', { partId: part.id, locationId: location.id, qty: '3', unitCost: '1' });
    await operator('IssueToWorkOrder', { workOrderId: 'WO-R', partId: part.id, locationId: location.id, qty: '1' });
    expect((await viewer('GetOnHand', { partId: part.id })).onHand[0].qtyOnHand).toBe('2.000');
    expect((await viewer('GetWorkOrderParts', { workOrderId: 'WO-R' })).lineCount).toBe('1');

    const denied = [
      () => viewer('IssueToWorkOrder', { workOrderId: 'WO-R', partId: part.id, locationId: location.id, qty: '1' }),
      () => viewer('ReceiveParts', { partId: part.id, locationId: location.id, qty: '1', unitCost: '1' }),
      () => operator('AdjustStock', { partId: part.id, locationId: location.id, qtyDelta: '1', reason: 'x' }),
      () => operator('RecordCount', { partId: part.id, locationId: location.id, countedQty: '0' }),
      () => operator('ReturnToVendor', { partId: part.id, locationId: location.id, qty: '1' }),
      () => operator('CreatePart', { part: { partNumber: 'X', name: 'x' } }),
      () => operator('CheckInventoryHealth', {}),
      () => operator('Reconcile', {}),
    ];
    for (const attempt of denied) {
      const failure = await expectError(attempt());
      expect(failure).toMatchObject({ code: status.PERMISSION_DENIED, errorInfo: expect.objectContaining({ reason: 'MISSING_ROLE' }) });
    }
    expect((await expectError(call(client, 'ListParts', {}))).code).toBe(status.UNAUTHENTICATED);
    expect((await admin('Reconcile', {})).rows.every((row: any) => row.consistent)).toBe(true);
    // Nothing the denied calls asked for happened.
    expect((await viewer('GetOnHand', { partId: part.id })).onHand[0].qtyOnHand).toBe('2.000');
  });
});
