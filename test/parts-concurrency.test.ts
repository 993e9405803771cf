/**
 * PartsService under concurrent callers, through a real server, real
 * PostgreSQL and many grpc-js calls at once: FIFO issues that never oversell
 * and never skip an older layer, opposite transfers that cannot deadlock,
 * and idempotency keys that run an operation once.
 */
import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { newTenant, errorDetails, expectError, startStockroom, type TenantCall, type TestStockroom } from './support/harness.js';

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

async function store(prefix: string) {
  const { tenant, token, call: parts } = await newTenant(stockroom, client, prefix, { sub: 'carol' });
  const { part } = await parts('CreatePart', { part: { partNumber: 'P-CONC', name: 'Fuse 10A' } });
  const { location: a } = await parts('CreateLocation', { location: { site: 'MAIN', name: 'A' } });
  const { location: b } = await parts('CreateLocation', { location: { site: 'MAIN', name: 'B' } });
  return { tenant, token, parts, part, a, b };
}

function day(day: number) {
  return { seconds: String(Date.UTC(2024, 1, day) / 1000), nanos: 0 };
}

/** Every movement of the part, oldest first, across pages. */
async function ledger(parts: TenantCall, part_id: string): Promise<any[]> {
  const all: any[] = [];
  let pageToken = '';
  do {
    const page = await parts('ListMovements', { partId: part_id, pageSize: 1000, pageToken });
    all.push(...page.movements);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return all.reverse();
}

describe('concurrent FIFO issues', () => {
  it('40 concurrent issues of 1 against 25 units in five layers: exactly 25 succeed, no layer goes negative, no younger layer is touched while an older one has stock', async () => {
    const { parts, part, a } = await store('fifo40');
    const layers: string[] = [];
    for (let index = 0; index < 5; index++) {
      // Received in reverse date order, so layer order and insertion order differ.
      const { batch } = await parts('ReceiveParts', { partId: part.id, locationId: a.id, qty: '5', unitCost: `${10 - index}.5`, receivedDate: day(5 - index) });
      layers.unshift(batch.id);
    }

    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, index) => parts('IssueToWorkOrder', { workOrderId: `WO-${index}`, partId: part.id, locationId: a.id, qty: '1' })),
    );
    const succeeded = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const failed = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected').map((outcome) => errorDetails(outcome.reason));
    expect(succeeded).toHaveLength(25);
    expect(failed).toHaveLength(15);
    for (const failure of failed) {
      expect(failure.code).toBe(status.FAILED_PRECONDITION);
      expect(failure.errorInfo).toMatchObject({ reason: 'INSUFFICIENT_STOCK', metadata: expect.objectContaining({ requested: '1.000', available: '0.000' }) });
    }

    const { batches } = await parts('ListBatches', { partId: part.id, includeEmpty: true });
    expect(batches.map((batch: any) => [batch.id, batch.qtyOnHand])).toEqual(layers.map((id) => [id, '0.000']));

    // In ledger order, issues walk the layers oldest first and never come back.
    const issues = (await ledger(parts, part.id)).filter((movement) => movement.type === 'MOVEMENT_TYPE_ISSUE');
    expect(issues).toHaveLength(25);
    const taken_order = issues.map((movement) => layers.indexOf(movement.batchId));
    expect(taken_order).toEqual([...taken_order].sort((x, y) => x - y));
    for (let index = 0; index < 5; index++) expect(taken_order.filter((layer) => layer === index)).toHaveLength(5);

    const health = await parts('CheckInventoryHealth', {});
    expect(health.fifoViolations.count).toBe('0');
    expect(health.healthy).toBe(true);
    expect(health.fifoMovementsChecked).toBe('25');
    const { rows } = await parts('Reconcile', { partId: part.id });
    expect(rows).toEqual([expect.objectContaining({ ledgerQty: '0.000', batchQty: '0.000', balanceQty: '0.000', consistent: true })]);
  });
});

describe('concurrent transfers', () => {
  it('A→B and B→A at the same time: no deadlock, no ABORTED, quantities and value preserved', async () => {
    const { parts, part, a, b } = await store('swap');
    await parts('ReceiveParts', { partId: part.id, locationId: a.id, qty: '50', unitCost: '1.25', receivedDate: day(1) });
    await parts('ReceiveParts', { partId: part.id, locationId: b.id, qty: '50', unitCost: '2.5', receivedDate: day(2) });
    const before = await parts('GetOnHand', { partId: part.id });
    const value = (rows: any[]) => rows.reduce((sum, row) => sum + Math.round(Number(row.value) * 1e7), 0);

    const transfers = Array.from({ length: 40 }, (_, index) =>
      index % 2 === 0
        ? parts('TransferBetweenLocations', { partId: part.id, fromLocationId: a.id, toLocationId: b.id, qty: '2' })
        : parts('TransferBetweenLocations', { partId: part.id, fromLocationId: b.id, toLocationId: a.id, qty: '2' }),
    );
    const outcomes = await Promise.allSettled(transfers);
    const rejected = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    expect(rejected.map((outcome) => errorDetails(outcome.reason).errorInfo?.reason)).toEqual([]);

    const after = await parts('GetOnHand', { partId: part.id });
    expect(after.onHand.map((row: any) => row.qtyOnHand)).toEqual(['50.000', '50.000']);
    expect(value(after.onHand)).toBe(value(before.onHand));
    const { rows } = await parts('Reconcile', { partId: part.id });
    expect(rows.map((row: any) => row.consistent)).toEqual([true, true]);
    const transfer_movements = (await ledger(parts, part.id)).filter((movement) => movement.type.startsWith('MOVEMENT_TYPE_TRANSFER'));
    expect(transfer_movements.reduce((sum, movement) => sum + Number(movement.qtyDelta), 0)).toBe(0);
    expect((await parts('CheckInventoryHealth', {})).healthy).toBe(true);
  });
});

describe('idempotency keys', () => {
  it('a replay returns the first response and writes nothing; another request under the key is refused', async () => {
    const { parts, part, a } = await store('replay');
    await parts('ReceiveParts', { partId: part.id, locationId: a.id, qty: '10', unitCost: '3' });
    const request = { workOrderId: 'WO-IDEM', partId: part.id, locationId: a.id, qty: '4', idempotencyKey: 'issue-0001' };
    const first = await parts('IssueToWorkOrder', request);
    const replay = await parts('IssueToWorkOrder', request);
    expect(replay).toEqual(first);
    expect((await parts('GetOnHand', { partId: part.id })).onHand[0].qtyOnHand).toBe('6.000');
    expect((await parts('GetWorkOrderParts', { workOrderId: 'WO-IDEM' })).lineCount).toBe('1');

    const mismatch = await expectError(parts('IssueToWorkOrder', { ...request, qty: '5' }));
    expect(mismatch.code).toBe(status.FAILED_PRECONDITION);
    expect(mismatch.errorInfo).toMatchObject({ reason: 'IDEMPOTENCY_KEY_REUSED', domain: 'stockroom.parts.v1' });
    // Keys are scoped per method: the same key on another method is a new key.
    const returned = await parts('ReturnFromWorkOrder', { ...request, qty: '1' });
    expect(returned.totalCost).toBe('3.0000000');
    expect((await parts('GetOnHand', { partId: part.id })).onHand[0].qtyOnHand).toBe('7.000');
  });

  it('10 concurrent calls with one key run the operation once', async () => {
    const { parts, part, a } = await store('idem10');
    const request = { partId: part.id, locationId: a.id, qty: '2.5', unitCost: '4.125', receiptId: 'PO-77', idempotencyKey: 'receipt-PO-77' };
    const responses = await Promise.all(Array.from({ length: 10 }, () => parts('ReceiveParts', request)));
    for (const response of responses) expect(response).toEqual(responses[0]);
    const { batches } = await parts('ListBatches', { partId: part.id });
    expect(batches).toHaveLength(1);
    expect((await ledger(parts, part.id)).map((movement) => movement.id)).toEqual(responses[0].movementIds);
    expect((await parts('GetOnHand', { partId: part.id })).onHand[0].qtyOnHand).toBe('2.500');

    const issue = { workOrderId: 'WO-10', partId: part.id, locationId: a.id, qty: '0.5', idempotencyKey: 'issue-WO-10' };
    const issued = await Promise.all(Array.from({ length: 10 }, () => parts('IssueToWorkOrder', issue)));
    for (const response of issued) expect(response).toEqual(issued[0]);
    expect((await parts('GetWorkOrderParts', { workOrderId: 'WO-10' })).lineCount).toBe('1');
    expect((await parts('GetOnHand', { partId: part.id })).onHand[0].qtyOnHand).toBe('2.000');
  });
});
