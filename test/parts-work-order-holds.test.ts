/**
 * Parts held for work orders (issue 11), through a real server, real
 * PostgreSQL and many grpc-js calls at once: holds at the balance, free
 * stock = on hand - reserved everywhere, the work order's own hold taken
 * first by its issues, FIFO cost untouched, expiry, and the database's own
 * defence of reserved.
 */
import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { InsufficientStockDetailSchema, ReservationExceededDetailSchema, ReservationExpiredDetailSchema } from '../gen/stockroom/parts/v1/error_details_pb.js';
import { errorDetails, expectError, newTenant, rawQuery, startStockroom, type TestStockroom } from './support/harness.js';
import { eventually } from './support/wait.js';

const SERVICE = 'stockroom.parts.v1.PartsService';

let stockroom: TestStockroom;
let client: grpc.Client;

beforeAll(async () => {
  stockroom = await startStockroom({ STOCKROOM_HOLD_SWEEP_INTERVAL_MS: '50' });
  client = stockroom.grpcClient(SERVICE);
});

afterAll(async () => {
  await stockroom?.close();
});

const ttl = (ms: number) => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });

function day(day: number) {
  return { seconds: String(Date.UTC(2024, 1, day) / 1000), nanos: 0 };
}

/** A part at two locations; location A has 5 at 10.0000 (older) and 5 at 20.0000. */
async function store(prefix: string) {
  const { tenant, call: parts } = await newTenant(stockroom, client, prefix, { sub: 'planner' });
  const { part } = await parts('CreatePart', { part: { partNumber: 'P-HOLD', name: 'Bearing' } });
  const { location: a } = await parts('CreateLocation', { location: { site: 'MAIN', name: 'A' } });
  const { location: b } = await parts('CreateLocation', { location: { site: 'MAIN', name: 'B' } });
  await parts('ReceiveParts', { partId: part.id, locationId: a.id, qty: '5', unitCost: '10', receivedDate: day(1) });
  await parts('ReceiveParts', { partId: part.id, locationId: a.id, qty: '5', unitCost: '20', receivedDate: day(2) });
  return { tenant, parts, part, a, b };
}

async function balance(tenant: string, part_id: string, location_id: string) {
  const [row] = await rawQuery<{ qty_on_hand: string; qty_reserved: string; open_holds: string }>(
    `select b.qty_on_hand::text, b.qty_reserved::text,
            (select coalesce(sum(h.qty_held), 0)::numeric(18,3)::text from part_work_order_holds h
             where h.tenant_id = b.tenant_id and h.part_id = b.part_id and h.location_id = b.location_id) as open_holds
     from part_balances b where b.tenant_id = $1 and b.part_id = $2 and b.location_id = $3`,
    [tenant, part_id, location_id],
  );
  return row;
}

describe('ReservePartsForWorkOrder', () => {
  it('holds at the balance: on hand stays, reserved and available show everywhere, and other stock paths cannot take the held units', async () => {
    const { parts, part, a, b } = await store('wo-hold');
    const reserved = await parts('ReservePartsForWorkOrder', { workOrderId: 'WO-1', partId: part.id, locationId: a.id, qty: '7' });
    expect(reserved).toMatchObject({ qtyOnHand: '10.000', qtyReserved: '7.000', qtyAvailable: '3.000' });
    expect(reserved.hold).toMatchObject({ workOrderId: 'WO-1', partNumber: 'P-HOLD', qtyHeld: '7.000', qtyIssued: '0.000', expireTime: null });

    const { onHand } = await parts('GetOnHand', { partId: part.id, locationId: a.id });
    expect(onHand[0]).toMatchObject({ qtyOnHand: '10.000', qtyReserved: '7.000', qtyAvailable: '3.000' });
    const { locations } = await parts('GetLocationsOnHand', { partId: part.id });
    expect(locations.find((row: any) => row.locationId === a.id)).toMatchObject({ qtyOnHand: '10.000', qtyReserved: '7.000', qtyAvailable: '3.000' });
    const { batches } = await parts('ListBatches', { partId: part.id, locationId: a.id });
    expect(batches.map((batch: any) => [batch.qtyOnHand, batch.locationQtyReserved, batch.locationQtyAvailable])).toEqual([
      ['5.000', '7.000', '3.000'],
      ['5.000', '7.000', '3.000'],
    ]);

    const attempts = [
      parts('IssueToWorkOrder', { workOrderId: 'WO-2', partId: part.id, locationId: a.id, qty: '4' }),
      parts('TransferBetweenLocations', { partId: part.id, fromLocationId: a.id, toLocationId: b.id, qty: '4' }),
      parts('AdjustStock', { partId: part.id, locationId: a.id, qtyDelta: '-4', reason: 'shrinkage' }),
      parts('RecordCount', { partId: part.id, locationId: a.id, countedQty: '6', reason: 'cycle count' }),
      parts('ReturnToVendor', { partId: part.id, locationId: a.id, qty: '4', reason: 'defect' }),
    ];
    for (const attempt of attempts) {
      const error = await expectError(attempt, [InsufficientStockDetailSchema]);
      expect(error.code).toBe(status.FAILED_PRECONDITION);
      expect(error.errorInfo).toMatchObject({ reason: 'INSUFFICIENT_STOCK', metadata: expect.objectContaining({ available: '3.000', qtyOnHand: '10.000', qtyReserved: '7.000' }) });
      const detail = error.details.find((d) => d.typeName === 'stockroom.parts.v1.InsufficientStockDetail')?.value as any;
      expect(detail).toMatchObject({ qtyOnHand: '10.000', qtyReserved: '7.000', available: '3.000' });
    }
    // Free units still move.
    await parts('IssueToWorkOrder', { workOrderId: 'WO-2', partId: part.id, locationId: a.id, qty: '3' });
    const short = await expectError(parts('ReservePartsForWorkOrder', { workOrderId: 'WO-3', partId: part.id, locationId: a.id, qty: '1' }));
    expect(short.errorInfo).toMatchObject({ reason: 'INSUFFICIENT_STOCK', metadata: expect.objectContaining({ available: '0.000' }) });
  });

  it('IssueToWorkOrder takes the work order\'s own hold first, then free stock, at FIFO cost; GetWorkOrderParts shows reserved, issued, returned and net', async () => {
    const { tenant, parts, part, a } = await store('wo-issue');
    await parts('ReservePartsForWorkOrder', { workOrderId: 'WO-7', partId: part.id, locationId: a.id, qty: '4' });
    const issued = await parts('IssueToWorkOrder', { workOrderId: 'WO-7', partId: part.id, locationId: a.id, qty: '6' });
    // FIFO: 5 at 10 then 1 at 20, whatever was held.
    expect(issued.totalCost).toBe('70.0000000');
    expect(await balance(tenant, part.id, a.id)).toEqual({ qty_on_hand: '4.000', qty_reserved: '0.000', open_holds: '0.000' });
    await parts('ReservePartsForWorkOrder', { workOrderId: 'WO-7', partId: part.id, locationId: a.id, qty: '2' });
    await parts('ReturnFromWorkOrder', { workOrderId: 'WO-7', partId: part.id, locationId: a.id, qty: '1' });
    const summary = await parts('GetWorkOrderParts', { workOrderId: 'WO-7' });
    expect(summary.parts).toEqual([
      expect.objectContaining({ partId: part.id, locationId: a.id, qtyReserved: '2.000', qtyIssued: '6.000', qtyReturned: '1.000', netQty: '5.000' }),
    ]);
    // A work order that only holds parts shows them too.
    await parts('ReservePartsForWorkOrder', { workOrderId: 'WO-8', partId: part.id, locationId: a.id, qty: '1' });
    const only_held = await parts('GetWorkOrderParts', { workOrderId: 'WO-8' });
    expect(only_held.parts).toEqual([expect.objectContaining({ qtyReserved: '1.000', qtyIssued: '0.000', netQty: '0.000' })]);
  });

  it('ReleaseWorkOrderReservation gives back a quantity, a part, or everything; more than held is refused', async () => {
    const { tenant, parts, part, a } = await store('wo-release');
    await parts('ReceiveParts', { partId: part.id, locationId: (await parts('CreateLocation', { location: { site: 'MAIN', name: 'C' } })).location.id, qty: '3', unitCost: '5' });
    await parts('ReservePartsForWorkOrder', { workOrderId: 'WO-R', partId: part.id, locationId: a.id, qty: '5' });
    const partial = await parts('ReleaseWorkOrderReservation', { workOrderId: 'WO-R', partId: part.id, locationId: a.id, qty: '2' });
    expect(partial.qtyReleased).toBe('2.000');
    expect(partial.holds[0]).toMatchObject({ qtyHeld: '3.000', qtyReleased: '2.000' });
    const too_much = await expectError(parts('ReleaseWorkOrderReservation', { workOrderId: 'WO-R', partId: part.id, locationId: a.id, qty: '4' }), [
      ReservationExceededDetailSchema,
    ]);
    expect(too_much.errorInfo?.reason).toBe('RESERVATION_EXCEEDED');
    expect(too_much.errorInfo?.metadata).toMatchObject({ workOrderId: 'WO-R', requested: '4.000', held: '3.000', expired: '0.000' });
    expect(too_much.details.find((d) => d.typeName === 'stockroom.parts.v1.ReservationExceededDetail')?.value).toMatchObject({
      workOrderId: 'WO-R',
      lines: [{ partId: part.id, partNumber: 'P-HOLD', locationId: a.id, requested: '4.000', held: '3.000', expired: '0.000' }],
    });
    const all = await parts('ReleaseWorkOrderReservation', { workOrderId: 'WO-R' });
    expect(all.qtyReleased).toBe('3.000');
    expect(await balance(tenant, part.id, a.id)).toMatchObject({ qty_reserved: '0.000', open_holds: '0.000' });
    expect((await expectError(parts('ReleaseWorkOrderReservation', { workOrderId: 'WO-none' }))).code).toBe(status.NOT_FOUND);
    const bad = await expectError(parts('ReleaseWorkOrderReservation', { workOrderId: 'WO-R', qty: '1' }));
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
  });

  it('a hold with a 200 ms lifetime expires: its units are free again and the work order\'s issue no longer takes them first', async () => {
    const { tenant, parts, part, a } = await store('wo-ttl');
    const reserved = await parts('ReservePartsForWorkOrder', { workOrderId: 'WO-T', partId: part.id, locationId: a.id, qty: '10', ttl: ttl(200) });
    expect(reserved.hold.expireTime).not.toBeNull();
    await expectError(parts('IssueToWorkOrder', { workOrderId: 'WO-other', partId: part.id, locationId: a.id, qty: '1' }));
    await eventually(() => balance(tenant, part.id, a.id), (b) => b.qty_reserved === '0.000', { timeout_ms: 5_000 });
    expect(await balance(tenant, part.id, a.id)).toEqual({ qty_on_hand: '10.000', qty_reserved: '0.000', open_holds: '0.000' });
    const summary = await parts('GetWorkOrderParts', { workOrderId: 'WO-T' });
    expect(summary.parts[0]).toMatchObject({ qtyReserved: '0.000' });
    await parts('IssueToWorkOrder', { workOrderId: 'WO-other', partId: part.id, locationId: a.id, qty: '10' });
    const expired = await expectError(parts('ReleaseWorkOrderReservation', { workOrderId: 'WO-T' }), [ReservationExpiredDetailSchema]);
    expect(expired.errorInfo?.reason).toBe('RESERVATION_EXPIRED');
    expect(expired.errorInfo?.metadata).toMatchObject({ workOrderId: 'WO-T', requested: '', held: '0.000', expired: '10.000' });
    const [line] = (expired.details.find((d) => d.typeName === 'stockroom.parts.v1.ReservationExpiredDetail')?.value as { lines: unknown[] }).lines;
    expect(line).toMatchObject({ partId: part.id, locationId: a.id, requested: '', held: '0.000', expired: '10.000' });
    expect(line).toHaveProperty('expireTime.seconds');
  });

  it('idempotent retries of ReservePartsForWorkOrder and ReleaseWorkOrderReservation return the first answer and change nothing', async () => {
    const { tenant, parts, part, a } = await store('wo-idem');
    const reserve = { workOrderId: 'WO-I', partId: part.id, locationId: a.id, qty: '3', idempotencyKey: 'reserve-1' };
    const first = await parts('ReservePartsForWorkOrder', reserve);
    const retries = await Promise.all([parts('ReservePartsForWorkOrder', reserve), parts('ReservePartsForWorkOrder', reserve)]);
    for (const retry of retries) expect(retry).toEqual(first);
    expect((await balance(tenant, part.id, a.id)).qty_reserved).toBe('3.000');
    const release = { workOrderId: 'WO-I', partId: part.id, locationId: a.id, qty: '1', idempotencyKey: 'release-1' };
    const released = await parts('ReleaseWorkOrderReservation', release);
    expect(await parts('ReleaseWorkOrderReservation', release)).toEqual(released);
    expect((await balance(tenant, part.id, a.id)).qty_reserved).toBe('2.000');
  });

  it('the database refuses reserved above on hand, and a hold changed other than by reserve, issue, release or expiry', async () => {
    const { tenant, parts, part, a } = await store('wo-db');
    await parts('ReservePartsForWorkOrder', { workOrderId: 'WO-D', partId: part.id, locationId: a.id, qty: '10' });
    await expect(
      rawQuery(`update part_work_order_holds set qty_held = qty_held + 1 where work_order_id = 'WO-D'`, [], { as_app_role: true, tenant }),
    ).rejects.toThrow(/reserved_within_on_hand/);
    await expect(
      rawQuery(`update part_work_order_holds set qty_held = qty_held - 1 where work_order_id = 'WO-D'`, [], { as_app_role: true, tenant }),
    ).rejects.toThrow(/changes only by reserve, issue, release or expiry/);
    await expect(
      rawQuery(`insert into part_work_order_holds (tenant_id, work_order_id, part_id, location_id, qty_held) values ($1, 'WO-X', $2, $3, 1)`, [tenant, part.id, a.id], {
        as_app_role: true,
        tenant,
      }),
    ).rejects.toThrow(/reserved_within_on_hand/);
  });
});

describe('work-order holds and free issues racing for the last units', () => {
  it('reserved never exceeds on hand, no issue takes another work order\'s units, FIFO holds for the cost', async () => {
    const { tenant, parts, part, a } = await store('wo-race');
    // 10 units: 5 at 10, 5 at 20. Eight planners hold 2 each, eight free issues take 1 each, all at once.
    const calls = [
      ...Array.from({ length: 8 }, (_, index) => () => parts('ReservePartsForWorkOrder', { workOrderId: `WO-H${index}`, partId: part.id, locationId: a.id, qty: '2' })),
      ...Array.from({ length: 8 }, (_, index) => () => parts('IssueToWorkOrder', { workOrderId: `WO-F${index}`, partId: part.id, locationId: a.id, qty: '1' })),
    ];
    const outcomes = await Promise.allSettled(calls.sort(() => Math.random() - 0.5).map((call) => call()));
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') expect(errorDetails(outcome.reason).errorInfo?.reason).toBe('INSUFFICIENT_STOCK');
    }
    const after = await balance(tenant, part.id, a.id);
    expect(Number(after.qty_reserved)).toBeLessThanOrEqual(Number(after.qty_on_hand));
    expect(after.qty_reserved).toBe(after.open_holds);
    const holders = (await rawQuery<{ work_order_id: string; qty_held: string }>(
      `select work_order_id, qty_held::text from part_work_order_holds where tenant_id = $1 and qty_held > 0`,
      [tenant],
    ));
    const issued_free = 10 - Number(after.qty_on_hand);
    expect(holders.length * 2 + issued_free).toBeLessThanOrEqual(10);

    // Each holder then issues its own 2 and exactly its own: every hold is consumed, free stock is what was left.
    const free_before = Number(after.qty_on_hand) - Number(after.qty_reserved);
    await Promise.all(holders.map((holder) => parts('IssueToWorkOrder', { workOrderId: holder.work_order_id, partId: part.id, locationId: a.id, qty: '2' })));
    const end = await balance(tenant, part.id, a.id);
    expect(end).toMatchObject({ qty_reserved: '0.000', open_holds: '0.000' });
    expect(Number(end.qty_on_hand)).toBe(free_before);
    // FIFO for the cost: issues in ledger order took the 10.0000 layer before any of the 20.0000 one.
    const { movements } = await parts('ListMovements', { partId: part.id, types: ['MOVEMENT_TYPE_ISSUE'], pageSize: 1000 });
    const costs = movements.reverse().map((movement: any) => movement.unitCost);
    expect(costs).toEqual([...costs].sort());
  });
});
