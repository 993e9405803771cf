/**
 * Strict FIFO on same-day receipts (issue 10, item 2): receipts with one
 * received date go out in the order they were booked, in allocation,
 * ListBatches, transfers and the health check alike. Layer ids are random
 * UUIDs, so before the receipt sequence the later receipt went first about
 * half the time; 100 of 100 here proves the order is decided, not lucky.
 */
import type * as grpc from '@grpc/grpc-js';
import { newTenant, startStockroom, type TenantCall, type TestStockroom } from './support/harness.js';

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

const SAME_DAY = { seconds: String(Date.UTC(2024, 5, 3) / 1000), nanos: 0 };

/** A part with two same-day receipts at one location: 1 at 1.0000, then 1 at 2.0000. */
async function twoSameDayReceipts(parts: TenantCall, location_id: string, n: number) {
  const { part } = await parts('CreatePart', { part: { partNumber: `SAME-${n}`, name: 'Washer' } });
  const first = (await parts('ReceiveParts', { partId: part.id, locationId: location_id, qty: '1', unitCost: '1', receivedDate: SAME_DAY })).batch;
  const second = (await parts('ReceiveParts', { partId: part.id, locationId: location_id, qty: '1', unitCost: '2', receivedDate: SAME_DAY })).batch;
  return { part, first, second };
}

describe('FIFO on same-day receipts', () => {
  it('issues the earlier receipt first, 100 times out of 100', async () => {
    const { call: parts } = await newTenant(stockroom, client, 'fifo-ties');
    const { location } = await parts('CreateLocation', { location: { site: 'PLANT', name: 'Crib' } });
    const places = [];
    for (let n = 0; n < 100; n++) places.push(await twoSameDayReceipts(parts, location.id, n));
    const firsts = await Promise.all(
      places.map(async ({ part, first }) => {
        const issued = await parts('IssueToWorkOrder', { workOrderId: 'WO-TIES', partId: part.id, locationId: location.id, qty: '1' });
        return issued.allocations.length === 1 && issued.allocations[0].batchId === first.id && issued.allocations[0].unitCost === '1.0000';
      }),
    );
    expect(firsts.filter(Boolean)).toHaveLength(100);
    const health = await parts('CheckInventoryHealth', {});
    expect(health.fifoViolations.count).toBe('0');
  });

  it('lists layers in receipt order, and a transferred layer keeps its original place in line', async () => {
    const { call: parts } = await newTenant(stockroom, client, 'fifo-moves');
    const { location: a } = await parts('CreateLocation', { location: { site: 'PLANT', name: 'A' } });
    const { location: b } = await parts('CreateLocation', { location: { site: 'PLANT', name: 'B' } });
    for (let n = 0; n < 10; n++) {
      const { part, first, second } = await twoSameDayReceipts(parts, a.id, n);
      const listed = await parts('ListBatches', { partId: part.id, locationId: a.id, pageSize: 1 });
      expect(listed.batches.map((batch: any) => batch.id)).toEqual([first.id]);
      const next = await parts('ListBatches', { partId: part.id, locationId: a.id, pageSize: 1, pageToken: listed.nextPageToken });
      expect(next.batches.map((batch: any) => batch.id)).toEqual([second.id]);

      // B books its own same-day receipt after A's two; then A's older receipt moves to B.
      const own = (await parts('ReceiveParts', { partId: part.id, locationId: b.id, qty: '1', unitCost: '3', receivedDate: SAME_DAY })).batch;
      const moved = await parts('TransferBetweenLocations', { partId: part.id, fromLocationId: a.id, toLocationId: b.id, qty: '1' });
      expect(moved.allocations.map((taken: any) => taken.batchId)).toEqual([first.id]);
      const at_b = await parts('ListBatches', { partId: part.id, locationId: b.id });
      expect(at_b.batches.map((batch: any) => batch.id)).toEqual([moved.allocations[0].destinationBatchId, own.id]);
      const issued = await parts('IssueToWorkOrder', { workOrderId: 'WO-B', partId: part.id, locationId: b.id, qty: '1' });
      expect(issued.allocations.map((taken: any) => taken.unitCost)).toEqual(['1.0000']);
    }
    const health = await parts('CheckInventoryHealth', {});
    expect(health.fifoViolations.count).toBe('0');
  });
});
