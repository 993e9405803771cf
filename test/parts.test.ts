/**
 * PartsService behaviour through a real server, real PostgreSQL and a real
 * grpc-js client: FIFO costing, backdated receipts, returns into the layers
 * issued from, transfers that keep cost layers, adjustments, counts, returns
 * to vendor, the catalog, and the errors a client acts on.
 */
import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { InsufficientStockDetailSchema, ReturnExceedsIssuedDetailSchema } from '../gen/stockroom/parts/v1/error_details_pb.js';
import { newTenant, expectError, rawQuery, startStockroom, type TenantCall, type TestStockroom } from './support/harness.js';

const SERVICE = 'stockroom.parts.v1.PartsService';
const DETAILS = [InsufficientStockDetailSchema, ReturnExceedsIssuedDetailSchema];

let stockroom: TestStockroom;
let client: grpc.Client;

beforeAll(async () => {
  stockroom = await startStockroom();
  client = stockroom.grpcClient(SERVICE);
});

afterAll(async () => {
  await stockroom?.close();
});

/** A fresh tenant with an admin token, one part and two locations. */
async function store(prefix: string, part_number = 'P001') {
  const { tenant, token, call: parts } = await newTenant(stockroom, client, prefix, { sub: 'alice' });
  const { part } = await parts('CreatePart', { part: { partNumber: part_number, name: 'Bearing 6204', make: 'SKF', category: 'bearings' } });
  const { location: a } = await parts('CreateLocation', { location: { site: 'MAIN', name: 'Store A' } });
  const { location: b } = await parts('CreateLocation', { location: { site: 'MAIN', name: 'Store B' } });
  return { tenant, token, parts, part, a, b };
}

/** A Timestamp on 2024-01-`day` at noon UTC (plus microseconds). */
function day(day: number, micros = 0) {
  return { seconds: String(Date.UTC(2024, 0, day, 12) / 1000), nanos: micros * 1000 };
}

function receive(parts: TenantCall, part_id: string, location_id: string, qty: string, unit_cost: string, received_date?: object) {
  return parts('ReceiveParts', { partId: part_id, locationId: location_id, qty, unitCost: unit_cost, receivedDate: received_date });
}

const allocations = (response: { allocations: any[] }) => response.allocations.map((a) => [a.batchId, a.qty, a.unitCost, a.totalCost]);

describe('FIFO issue', () => {
  it('takes the oldest layers first, spanning two batches, with exact totals', async () => {
    const { parts, part, a } = await store('fifo');
    // Received out of date order on purpose: FIFO follows received_date, not arrival.
    const second = await receive(parts, part.id, a.id, '10', '2.25', day(2));
    const third = await receive(parts, part.id, a.id, '10', '3.125', day(3));
    const first = await receive(parts, part.id, a.id, '10', '1.5', day(1));
    expect(first.message).toBe('Received 10.000 of P001 into MAIN/Store A at 1.5000');
    expect(first.batch).toMatchObject({ qtyOnHand: '10.000', qtyReceived: '10.000', unitCost: '1.5000', receivedDate: day(1), value: '15.0000000' });

    const issued = await parts('IssueToWorkOrder', { workOrderId: 'WO-123', partId: part.id, locationId: a.id, qty: '12.5' });
    expect(allocations(issued)).toEqual([
      [first.batch.id, '10.000', '1.5000', '15.0000000'],
      [second.batch.id, '2.500', '2.2500', '5.6250000'],
    ]);
    expect(issued.totalCost).toBe('20.6250000');
    expect(issued.message).toBe('Issued 12.500 of P001 to WO-123');
    expect(issued.qtyOnHandAfter).toBe('17.500');
    expect(issued.movementIds).toHaveLength(2);
    expect(issued.workOrderLineIds).toHaveLength(2);

    const { lines, totalPartsCost } = await parts('GetWorkOrderParts', { workOrderId: 'WO-123' });
    expect(lines.map((line: any) => [line.batchId, line.qtyUsed, line.unitCostSnapshot, line.totalCost, line.movementId])).toEqual([
      [first.batch.id, '10.000', '1.5000', '15.0000000', issued.movementIds[0]],
      [second.batch.id, '2.500', '2.2500', '5.6250000', issued.movementIds[1]],
    ]);
    expect(totalPartsCost).toBe('20.6250000');

    const { batches } = await parts('ListBatches', { partId: part.id, locationId: a.id });
    expect(batches.map((batch: any) => [batch.id, batch.qtyOnHand])).toEqual([
      [second.batch.id, '7.500'],
      [third.batch.id, '10.000'],
    ]);
    const { movements } = await parts('ListMovements', { partId: part.id, types: ['MOVEMENT_TYPE_ISSUE'] });
    expect(movements.map((m: any) => [m.batchId, m.qtyDelta, m.totalCost, m.workOrderId, m.fromLocationId, m.createdBy])).toEqual([
      [second.batch.id, '-2.500', '-5.6250000', 'WO-123', a.id, 'alice'],
      [first.batch.id, '-10.000', '-15.0000000', 'WO-123', a.id, 'alice'],
    ]);
  });

  it('consumes a backdated receipt first afterwards, and keeps products of 3 and 4 places exact', async () => {
    const { parts, part, a } = await store('backdate');
    const january = await receive(parts, part.id, a.id, '10', '2.25', day(10));
    await parts('IssueToWorkOrder', { workOrderId: 'WO-1', partId: part.id, locationId: a.id, qty: '1' });
    const backdated = await receive(parts, part.id, a.id, '3.333', '0.3333', day(1, 250));
    expect(backdated.batch.receivedDate).toEqual(day(1, 250));

    const issued = await parts('IssueToWorkOrder', { workOrderId: 'WO-2', partId: part.id, locationId: a.id, qty: '4.333' });
    expect(allocations(issued)).toEqual([
      [backdated.batch.id, '3.333', '0.3333', '1.1108889'],
      [january.batch.id, '1.000', '2.2500', '2.2500000'],
    ]);
    expect(issued.totalCost).toBe('3.3608889');
    const { batches } = await parts('ListBatches', { partId: part.id, includeEmpty: true });
    expect(batches.map((batch: any) => [batch.id, batch.qtyOnHand])).toEqual([
      [backdated.batch.id, '0.000'],
      [january.batch.id, '8.000'],
    ]);
    // Movement times are when the ledger row was written, not the layer's received date.
    const now_seconds = Math.floor(Date.now() / 1000);
    const count = async (filter: object) => (await parts('ListMovements', { partId: part.id, ...filter })).movements.length;
    expect(await count({ fromTime: { seconds: String(now_seconds - 3600), nanos: 0 } })).toBe(5);
    expect(await count({ fromTime: { seconds: String(now_seconds + 3600), nanos: 0 } })).toBe(0);
    expect(await count({ toTime: { seconds: String(now_seconds - 3600), nanos: 0 } })).toBe(0);
    expect(await count({ workOrderId: 'WO-2' })).toBe(2);
    const first_page = await parts('ListMovements', { partId: part.id, pageSize: 3 });
    const second_page = await parts('ListMovements', { partId: part.id, pageSize: 3, pageToken: first_page.nextPageToken });
    // Newest first, no movement twice (ids are UUIDv7s: time first, so they sort newest first too, but ties in a ms are random).
    const paged = [...first_page.movements, ...second_page.movements];
    const micros = paged.map((m: any) => BigInt(m.createTime.seconds) * 1_000_000n + BigInt(m.createTime.nanos / 1000));
    expect(micros).toEqual([...micros].sort((x, y) => (x < y ? 1 : x > y ? -1 : 0)));
    expect(new Set(paged.map((m: any) => m.id)).size).toBe(5);
    expect(second_page.movements).toHaveLength(2);
    expect(second_page.nextPageToken).toBe('');
  });

  it('refuses more than the location holds with INSUFFICIENT_STOCK, one ErrorInfo and the typed detail', async () => {
    const { parts, part, a } = await store('short', 'P-SHORT');
    await receive(parts, part.id, a.id, '2.5', '1');
    const failure = await expectError(parts('IssueToWorkOrder', { workOrderId: 'WO-9', partId: part.id, locationId: a.id, qty: '3' }), DETAILS);
    expect(failure.code).toBe(status.FAILED_PRECONDITION);
    expect(failure.errorInfos).toHaveLength(1);
    expect(failure.errorInfo).toMatchObject({ reason: 'INSUFFICIENT_STOCK', domain: 'stockroom.parts.v1' });
    expect(failure.errorInfo?.metadata).toMatchObject({ partNumber: 'P-SHORT', requested: '3.000', available: '2.500', locationId: a.id });
    const detail = failure.details.find((d) => d.typeName === 'stockroom.parts.v1.InsufficientStockDetail')?.value;
    expect(detail).toMatchObject({ partNumber: 'P-SHORT', partId: part.id, locationId: a.id, requested: '3.000', available: '2.500' });
    // Nothing changed.
    const { onHand } = await parts('GetOnHand', { partId: part.id });
    expect(onHand.map((row: any) => row.qtyOnHand)).toEqual(['2.500']);
    const empty = await expectError(parts('IssueToWorkOrder', { workOrderId: 'WO-9', partId: part.id, locationId: (await store('x')).a.id, qty: '1' }));
    expect(empty.code).toBe(status.NOT_FOUND); // another tenant's location
  });

  it('refuses units past the largest balance with BALANCE_LIMIT_EXCEEDED, told by what the write did (no constraint name)', async () => {
    const { parts, part, a, b } = await store('limit', 'P-LIMIT');
    await receive(parts, part.id, a.id, '999999999999999', '0');
    await receive(parts, part.id, b.id, '1', '0');
    const refusals = [
      await expectError(receive(parts, part.id, a.id, '1', '0')),
      await expectError(parts('TransferBetweenLocations', { partId: part.id, fromLocationId: b.id, toLocationId: a.id, qty: '1' })),
    ];
    for (const refused of refusals) {
      expect(refused).toMatchObject({ code: status.FAILED_PRECONDITION, errorInfo: expect.objectContaining({ reason: 'BALANCE_LIMIT_EXCEEDED' }) });
    }
    const { onHand } = await parts('GetOnHand', { partId: part.id });
    expect(onHand.map((row: any) => row.qtyOnHand).sort()).toEqual(['1.000', '999999999999999.000']);
  });
});

describe('returns from work orders', () => {
  it('restores the layers issued from, newest issue first, at their cost; re-issue keeps cost and layers in step with the ledger', async () => {
    const { parts, part, a, b } = await store('return');
    const one = await receive(parts, part.id, a.id, '10', '1', day(1));
    const two = await receive(parts, part.id, a.id, '10', '2', day(2));
    const wo = 'WO-RET-1';
    await parts('IssueToWorkOrder', { workOrderId: wo, partId: part.id, locationId: a.id, qty: '12' }); // 10 of one, 2 of two
    await parts('IssueToWorkOrder', { workOrderId: wo, partId: part.id, locationId: a.id, qty: '3' }); // 3 of two

    const returned = await parts('ReturnFromWorkOrder', { workOrderId: wo, partId: part.id, locationId: a.id, qty: '6' });
    // Newest issue first: the 3 and the 2 from layer two (one allocation per layer), then 1 from layer one.
    expect(allocations(returned)).toEqual([
      [two.batch.id, '5.000', '2.0000', '10.0000000'],
      [one.batch.id, '1.000', '1.0000', '1.0000000'],
    ]);
    expect(returned.totalCost).toBe('11.0000000');
    expect(returned.message).toBe(`Returned 6.000 of P001 from ${wo}`);
    expect(returned.qtyOnHandAfter).toBe('11.000');

    const reissued = await parts('IssueToWorkOrder', { workOrderId: wo, partId: part.id, locationId: a.id, qty: '2' });
    expect(allocations(reissued)).toEqual([
      [one.batch.id, '1.000', '1.0000', '1.0000000'],
      [two.batch.id, '1.000', '2.0000', '2.0000000'],
    ]);

    const summary = await parts('GetWorkOrderParts', { workOrderId: wo });
    // 12 at 14.00, 3 at 6.00, back 6 at 11.00, again 2 at 3.00.
    expect(summary.totalPartsCost).toBe('12.0000000');
    expect(summary.lineCount).toBe('7');
    expect(summary.parts).toEqual([expect.objectContaining({ partId: part.id, locationId: a.id, netQty: '11.000', netCost: '12.0000000' })]);
    const line_total = summary.lines.reduce((sum: number, line: any) => sum + Number(line.totalCost), 0);
    expect(line_total).toBeCloseTo(12, 7);
    expect(summary.lines.filter((line: any) => line.qtyUsed.startsWith('-')).map((line: any) => [line.batchId, line.qtyUsed, line.totalCost])).toEqual([
      [two.batch.id, '-5.000', '-10.0000000'],
      [one.batch.id, '-1.000', '-1.0000000'],
    ]);

    // Every layer equals the sum of its own movements, and the three records agree.
    const { batches } = await parts('ListBatches', { partId: part.id, includeEmpty: true });
    const { movements } = await parts('ListMovements', { partId: part.id, pageSize: 1000 });
    for (const batch of batches) {
      const ledger = movements.filter((m: any) => m.batchId === batch.id).reduce((sum: number, m: any) => sum + Math.round(Number(m.qtyDelta) * 1000), 0);
      expect(ledger).toBe(Math.round(Number(batch.qtyOnHand) * 1000));
    }
    expect(batches.map((batch: any) => batch.qtyOnHand)).toEqual(['0.000', '9.000']);
    const { rows } = await parts('Reconcile', { partId: part.id });
    expect(rows).toEqual([expect.objectContaining({ locationId: a.id, ledgerQty: '9.000', batchQty: '9.000', balanceQty: '9.000', consistent: true })]);

    const too_much = await expectError(parts('ReturnFromWorkOrder', { workOrderId: wo, partId: part.id, locationId: a.id, qty: '11.001' }), DETAILS);
    expect(too_much.code).toBe(status.FAILED_PRECONDITION);
    expect(too_much.errorInfo).toMatchObject({ reason: 'RETURN_EXCEEDS_ISSUED', metadata: expect.objectContaining({ netIssued: '11.000', requested: '11.001' }) });
    expect(too_much.details.find((d) => d.typeName === 'stockroom.parts.v1.ReturnExceedsIssuedDetail')?.value).toMatchObject({
      workOrderId: wo,
      netIssued: '11.000',
      requested: '11.001',
    });
    const elsewhere = await expectError(parts('ReturnFromWorkOrder', { workOrderId: wo, partId: part.id, locationId: b.id, qty: '1' }));
    expect(elsewhere.errorInfo).toMatchObject({ reason: 'RETURN_EXCEEDS_ISSUED', metadata: expect.objectContaining({ netIssued: '0.000' }) });
    const everything = await parts('ReturnFromWorkOrder', { workOrderId: wo, partId: part.id, locationId: a.id, qty: '11' });
    expect(everything.totalCost).toBe('12.0000000');
    expect((await parts('GetWorkOrderParts', { workOrderId: wo })).totalPartsCost).toBe('0.0000000');
  });
});

describe('transfers', () => {
  it('move FIFO layers into new layers that keep received date and unit cost', async () => {
    const { parts, part, a, b } = await store('transfer');
    const old = await receive(parts, part.id, a.id, '5', '1.1111', day(1, 123456));
    const young = await receive(parts, part.id, a.id, '5', '2.2222', day(2));
    const moved = await parts('TransferBetweenLocations', { partId: part.id, fromLocationId: a.id, toLocationId: b.id, qty: '7' });
    expect(moved.allocations.map((x: any) => [x.batchId, x.qty, x.unitCost, x.totalCost])).toEqual([
      [old.batch.id, '5.000', '1.1111', '5.5555000'],
      [young.batch.id, '2.000', '2.2222', '4.4444000'],
    ]);
    expect(moved).toMatchObject({
      message: 'Transferred 7.000 of P001 from MAIN/Store A to MAIN/Store B',
      totalCost: '9.9999000',
      fromQtyOnHandAfter: '3.000',
      toQtyOnHandAfter: '7.000',
    });
    expect(moved.movementIds).toHaveLength(4);

    const { batches } = await parts('ListBatches', { partId: part.id, locationId: b.id });
    expect(batches.map((x: any) => [x.id, x.sourceBatchId, x.qtyOnHand, x.qtyReceived, x.unitCost, x.receivedDate])).toEqual([
      [moved.allocations[0].destinationBatchId, old.batch.id, '5.000', '5.000', '1.1111', day(1, 123456)],
      [moved.allocations[1].destinationBatchId, young.batch.id, '2.000', '2.000', '2.2222', day(2)],
    ]);
    const { onHand } = await parts('GetOnHand', { partId: part.id });
    expect(onHand.map((row: any) => [row.locationName, row.qtyOnHand, row.value, row.openBatches])).toEqual([
      ['Store A', '3.000', '6.6666000', 1],
      ['Store B', '7.000', '9.9999000', 2],
    ]);
    const { movements } = await parts('ListMovements', { partId: part.id, types: ['MOVEMENT_TYPE_TRANSFER_OUT', 'MOVEMENT_TYPE_TRANSFER_IN'] });
    expect(movements.map((m: any) => [m.type, m.locationId, m.fromLocationId, m.toLocationId, m.qtyDelta]).sort()).toEqual(
      [
        ['MOVEMENT_TYPE_TRANSFER_IN', b.id, a.id, b.id, '2.000'],
        ['MOVEMENT_TYPE_TRANSFER_IN', b.id, a.id, b.id, '5.000'],
        ['MOVEMENT_TYPE_TRANSFER_OUT', a.id, a.id, b.id, '-2.000'],
        ['MOVEMENT_TYPE_TRANSFER_OUT', a.id, a.id, b.id, '-5.000'],
      ].sort(),
    );
    // At the destination the moved layer keeps its age: an issue there takes it first.
    await receive(parts, part.id, b.id, '1', '9', day(3));
    const issued = await parts('IssueToWorkOrder', { workOrderId: 'WO-T', partId: part.id, locationId: b.id, qty: '1' });
    expect(issued.allocations[0].batchId).toBe(moved.allocations[0].destinationBatchId);

    const same = await expectError(parts('TransferBetweenLocations', { partId: part.id, fromLocationId: a.id, toLocationId: a.id.toUpperCase(), qty: '1' }));
    expect(same.code).toBe(status.INVALID_ARGUMENT);
    expect(same.errorInfo?.reason).toBe('SAME_LOCATION');
    const short = await expectError(parts('TransferBetweenLocations', { partId: part.id, fromLocationId: a.id, toLocationId: b.id, qty: '3.001' }));
    expect(short.errorInfo).toMatchObject({ reason: 'INSUFFICIENT_STOCK', metadata: expect.objectContaining({ available: '3.000', locationId: a.id }) });
  });
});

describe('adjustments, counts and returns to vendor', () => {
  it('adjusts FIFO out and in at the last price, books count differences, and returns named or FIFO layers', async () => {
    const { parts, part, a, b } = await store('adjust');
    const no_price = await expectError(parts('AdjustStock', { partId: part.id, locationId: a.id, qtyDelta: '1', reason: 'found' }));
    expect(no_price.errorInfo?.reason).toBe('UNIT_COST_REQUIRED');
    const first = await receive(parts, part.id, a.id, '4', '1.25', day(1));
    const second = await receive(parts, part.id, a.id, '4', '1.75', day(2));

    const down = await parts('AdjustStock', { partId: part.id, locationId: a.id, qtyDelta: '-5', reason: 'water damage' });
    expect(allocations(down)).toEqual([
      [first.batch.id, '4.000', '1.2500', '5.0000000'],
      [second.batch.id, '1.000', '1.7500', '1.7500000'],
    ]);
    expect(down.message).toBe('Adjusted P001 at MAIN/Store A by -5.000: water damage');
    const up = await parts('AdjustStock', { partId: part.id, locationId: a.id, qtyDelta: '2', reason: 'found in bin' });
    expect(up.allocations).toEqual([expect.objectContaining({ qty: '2.000', unitCost: '1.7500', totalCost: '3.5000000' })]);
    const priced = await parts('AdjustStock', { partId: part.id, locationId: a.id, qtyDelta: '1', reason: 'found', unitCost: '0.5' });
    expect(priced.allocations[0].unitCost).toBe('0.5000');
    const cost_on_negative = await expectError(parts('AdjustStock', { partId: part.id, locationId: a.id, qtyDelta: '-1', reason: 'x', unitCost: '1' }));
    expect(cost_on_negative.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['unit_cost']);

    // Books: 3 + 2 + 1 = 6.
    const same = await parts('RecordCount', { partId: part.id, locationId: a.id, countedQty: '6' });
    expect(same).toMatchObject({ previousQty: '6.000', qtyDelta: '0.000', qtyOnHandAfter: '6.000', movementIds: [] });
    const less = await parts('RecordCount', { partId: part.id, locationId: a.id, countedQty: '2.5', reason: 'cycle count' });
    expect(less).toMatchObject({ previousQty: '6.000', qtyDelta: '-3.500', qtyOnHandAfter: '2.500' });
    expect(less.allocations.map((x: any) => x.batchId)).toEqual([second.batch.id, up.allocations[0].batchId]);
    const more = await parts('RecordCount', { partId: part.id, locationId: a.id, countedQty: '4' });
    expect(more).toMatchObject({ qtyDelta: '1.500', qtyOnHandAfter: '4.000' });
    expect(more.allocations[0]).toMatchObject({ qty: '1.500', unitCost: '1.7500' });

    const { batches } = await parts('ListBatches', { partId: part.id, locationId: a.id });
    const newest = batches[batches.length - 1];
    const named = await parts('ReturnToVendor', { partId: part.id, locationId: a.id, qty: '1', batchId: newest.id, receiptId: 'RMA-7', reason: 'wrong size' });
    expect(named.allocations.map((x: any) => x.batchId)).toEqual([newest.id]);
    expect(named.message).toBe('Returned 1.000 of P001 to the vendor from MAIN/Store A');
    const fifo = await parts('ReturnToVendor', { partId: part.id, locationId: a.id, qty: '1' });
    expect(fifo.allocations.map((x: any) => x.batchId)).toEqual([batches[0].id]);
    const too_much = await expectError(parts('ReturnToVendor', { partId: part.id, locationId: a.id, qty: '1', batchId: newest.id }), DETAILS);
    expect(too_much.errorInfo?.reason).toBe('INSUFFICIENT_STOCK');
    expect(too_much.details.find((d) => d.typeName === 'stockroom.parts.v1.InsufficientStockDetail')?.value).toMatchObject({ batchId: newest.id, available: '0.500' });
    await receive(parts, part.id, b.id, '1', '1');
    const elsewhere = await expectError(parts('ReturnToVendor', { partId: part.id, locationId: b.id, qty: '1', batchId: batches[0].id }));
    expect(elsewhere.errorInfo?.reason).toBe('BATCH_NOT_AT_LOCATION');

    const { movements } = await parts('ListMovements', { partId: part.id, locationId: a.id, types: ['MOVEMENT_TYPE_RTV_OUT'] });
    expect(movements.map((m: any) => [m.qtyDelta, m.receiptId, m.reason])).toEqual([
      ['-1.000', '', ''],
      ['-1.000', 'RMA-7', 'wrong size'],
    ]);
    const { rows } = await parts('Reconcile', { partId: part.id });
    expect(rows.every((row: any) => row.consistent)).toBe(true);
  });
});

describe('catalog and locations', () => {
  it('creates, reads, lists with filters and pages, updates by field mask, and deletes only parts without history', async () => {
    const { parts, part, a } = await store('catalog');
    await parts('CreatePart', { part: { partNumber: 'P002', name: 'V-belt A42', make: 'Gates', category: 'belts', component: 'drive' } });
    await parts('CreatePart', { part: { partNumber: 'F-100', name: 'Oil filter', make: 'SKF', category: 'filters', lastPrice: '12.5' } });
    expect((await parts('GetPart', { partId: part.id })).part).toMatchObject({ partNumber: 'P001', name: 'Bearing 6204', lastPrice: '' });

    const numbers = async (request: object) => (await parts('ListParts', request)).parts.map((p: any) => p.partNumber);
    expect(await numbers({})).toEqual(['F-100', 'P001', 'P002']);
    expect(await numbers({ make: 'SKF' })).toEqual(['F-100', 'P001']);
    expect(await numbers({ category: 'belts' })).toEqual(['P002']);
    expect(await numbers({ text: 'p00' })).toEqual(['P001', 'P002']);
    expect(await numbers({ text: 'FILTER' })).toEqual(['F-100']);
    const first_page = await parts('ListParts', { pageSize: 2 });
    expect(first_page.parts).toHaveLength(2);
    const second_page = await parts('ListParts', { pageSize: 2, pageToken: first_page.nextPageToken });
    expect(second_page.parts.map((p: any) => p.partNumber)).toEqual(['P002']);
    expect(second_page.nextPageToken).toBe('');
    const other_filter = await expectError(parts('ListParts', { pageSize: 2, pageToken: first_page.nextPageToken, make: 'SKF' }));
    expect(other_filter.errorInfo?.reason).toBe('INVALID_PAGE_TOKEN');

    const updated = await parts('UpdatePart', { part: { id: part.id, name: 'Bearing 6204-2RS', partNumber: 'ignored' }, updateMask: { paths: ['name', 'last_price'] } });
    expect(updated.part).toMatchObject({ partNumber: 'P001', name: 'Bearing 6204-2RS', lastPrice: '' });
    const bad_mask = await expectError(parts('UpdatePart', { part: { id: part.id }, updateMask: { paths: ['id'] } }));
    expect(bad_mask.badRequest?.fieldViolations.map((v) => v.field)).toContain('update_mask');
    const taken = await expectError(parts('UpdatePart', { part: { id: part.id, partNumber: 'P002' }, updateMask: { paths: ['part_number'] } }));
    expect(taken.code).toBe(status.ALREADY_EXISTS);
    const duplicate = await expectError(parts('CreatePart', { part: { partNumber: 'P001', name: 'again' } }));
    expect(duplicate).toMatchObject({ code: status.ALREADY_EXISTS, errorInfo: expect.objectContaining({ reason: 'PART_ALREADY_EXISTS' }) });

    const spare = (await parts('CreatePart', { part: { partNumber: 'TMP', name: 'never stocked' } })).part;
    await parts('RecordCount', { partId: spare.id, locationId: a.id, countedQty: '0' });
    expect(await parts('DeletePart', { partId: spare.id })).toEqual({ partId: spare.id });
    expect((await expectError(parts('GetPart', { partId: spare.id }))).errorInfo?.reason).toBe('PART_NOT_FOUND');
    await receive(parts, part.id, a.id, '1', '1');
    await parts('AdjustStock', { partId: part.id, locationId: a.id, qtyDelta: '-1', reason: 'scrap' });
    const kept = await expectError(parts('DeletePart', { partId: part.id }));
    expect(kept).toMatchObject({ code: status.FAILED_PRECONDITION, errorInfo: expect.objectContaining({ reason: 'PART_HAS_HISTORY' }) });

    expect((await parts('GetLocation', { locationId: a.id })).location).toMatchObject({ site: 'MAIN', name: 'Store A' });
    await parts('CreateLocation', { location: { site: 'NORTH', name: 'Van 3', description: 'service van' } });
    const sites = (await parts('ListLocations', {})).locations.map((l: any) => `${l.site}/${l.name}`);
    expect(sites).toEqual(['MAIN/Store A', 'MAIN/Store B', 'NORTH/Van 3']);
    expect((await parts('ListLocations', { site: 'NORTH' })).locations).toHaveLength(1);
    const renamed = await parts('UpdateLocation', { location: { id: a.id, name: 'Store A1' }, updateMask: { paths: ['name'] } });
    expect(renamed.location).toMatchObject({ site: 'MAIN', name: 'Store A1' });
    const clash = await expectError(parts('UpdateLocation', { location: { id: a.id, name: 'Store B' }, updateMask: { paths: ['name'] } }));
    expect(clash.errorInfo?.reason).toBe('LOCATION_ALREADY_EXISTS');
    const { locations } = await parts('GetLocationsOnHand', { partId: part.id });
    expect(locations.map((l: any) => [l.site, l.name, l.qtyOnHand])).toEqual([
      ['MAIN', 'Store A1', '0.000'],
      ['MAIN', 'Store B', '0.000'],
      ['NORTH', 'Van 3', '0.000'],
    ]);
  });

  it('answers unknown ids with NOT_FOUND and bad input with INVALID_ARGUMENT naming every field', async () => {
    const { parts, part, a } = await store('input');
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect((await expectError(parts('GetPart', { partId: unknown }))).errorInfo?.reason).toBe('PART_NOT_FOUND');
    expect((await expectError(parts('GetLocation', { locationId: unknown }))).errorInfo?.reason).toBe('LOCATION_NOT_FOUND');
    const no_part = await expectError(parts('IssueToWorkOrder', { workOrderId: 'W', partId: unknown, locationId: a.id, qty: '1' }));
    expect(no_part).toMatchObject({ code: status.NOT_FOUND, errorInfo: expect.objectContaining({ reason: 'PART_NOT_FOUND' }) });
    const no_location = await expectError(receive(parts, part.id, unknown, '1', '1'));
    expect(no_location).toMatchObject({ code: status.NOT_FOUND, errorInfo: expect.objectContaining({ reason: 'LOCATION_NOT_FOUND' }) });

    const places = await expectError(receive(parts, part.id, a.id, '1.0001', '2.00001'));
    expect(places.code).toBe(status.INVALID_ARGUMENT);
    expect(places.errorInfo?.reason).toBe('TOO_MANY_DECIMAL_PLACES');
    expect(places.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['qty', 'unit_cost']);
    const many = await expectError(parts('IssueToWorkOrder', { workOrderId: '', partId: 'not-a-uuid', locationId: a.id, qty: '-1' }));
    expect(many.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['work_order_id', 'part_id', 'qty']);
    const long = await expectError(parts('CreatePart', { part: { partNumber: 'P'.repeat(65), name: 'x\u0007' } }));
    expect(long.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['part.part_number', 'part.name']);
    const big = await expectError(receive(parts, part.id, a.id, '1000000000000000', '1'));
    expect(big.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['qty']);
    const future = await expectError(receive(parts, part.id, a.id, '1', '1', { seconds: String(Math.floor(Date.now() / 1000) + 86_400), nanos: 0 }));
    expect(future.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['received_date']);
    const types = await expectError(parts('ListMovements', { types: ['MOVEMENT_TYPE_UNSPECIFIED'] }));
    expect(types.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['types[0]']);
    const page = await expectError(parts('ListParts', { pageSize: -1 }));
    expect(page.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['page_size']);
    // Nothing was written by any of these.
    expect((await parts('ListMovements', {})).movements).toEqual([]);
    await receive(parts, part.id, a.id, '1', '1');
    for (const [from, to] of [[a.id, unknown], [unknown, a.id]]) {
      const missing = await expectError(parts('TransferBetweenLocations', { partId: part.id, fromLocationId: from, toLocationId: to, qty: '1' }));
      expect(missing).toMatchObject({ code: status.NOT_FOUND, errorInfo: expect.objectContaining({ reason: 'LOCATION_NOT_FOUND' }) });
      expect(missing.errorInfo?.metadata.resourceName).toBe(unknown);
    }
  });

  it('refuses an operation that would touch more than 10,000 layers', async () => {
    const { tenant, parts, part, a } = await store('layers');
    await receive(parts, part.id, a.id, '1', '1');
    // 10,001 one-unit layers, loaded directly, each with its RECEIVE movement so the books agree.
    await rawQuery(
      `with layers as (
         insert into part_batches (tenant_id, part_id, location_id, qty_received, qty_on_hand, unit_cost, received_at)
         select $1, $2, $3, 1, 1, 1, timestamptz '2020-01-01' + n * interval '1 second' from generate_series(1, 10001) n
         returning id
       ), ledger as (
         insert into part_movements (tenant_id, type, part_id, location_id, batch_id, to_location_id, qty_delta, unit_cost, created_by)
         select $1, 'RECEIVE', $2, $3, id, $3, 1, 1, 'loader' from layers
       )
       update part_balances set qty_on_hand = qty_on_hand + 10001 where tenant_id = $1 and part_id = $2 and location_id = $3`,
      [tenant, part.id, a.id],
      // A bulk load as the owner writes the balances itself, so the triggers that derive them stay off.
      { settings: { session_replication_role: 'replica' } },
    );
    // As after any bulk load: fresh statistics, so cached plans (foreign-key checks included) see 10,000 rows, not 30.
    await rawQuery('analyze part_batches, part_movements, work_order_lines');
    const refused = await expectError(parts('IssueToWorkOrder', { workOrderId: 'WO-BIG', partId: part.id, locationId: a.id, qty: '10001' }));
    expect(refused).toMatchObject({ code: status.FAILED_PRECONDITION, errorInfo: expect.objectContaining({ reason: 'TOO_MANY_LAYERS' }) });
    const taken = await parts('IssueToWorkOrder', { workOrderId: 'WO-BIG', partId: part.id, locationId: a.id, qty: '10000' });
    expect(taken.allocations).toHaveLength(10_000);
    expect(taken.totalCost).toBe('10000.0000000');
    expect((await parts('GetOnHand', { partId: part.id })).onHand[0]).toMatchObject({ qtyOnHand: '2.000', openBatches: 2 });
  });
});
