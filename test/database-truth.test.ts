/**
 * The database keeps the truth by itself (issue 10, item 1): connected as
 * the service's runtime role with a tenant set, exactly as the service is,
 * every write that would break the link between the ledger and a balance is
 * refused by PostgreSQL, and the legitimate writes keep every balance equal
 * to what its ledger says.
 */
import type * as grpc from '@grpc/grpc-js';
import { citusWorkerUrls, newTenant, rawQuery, startStockroom, type TenantCall, type TestStockroom } from './support/harness.js';

let stockroom: TestStockroom;
let inventory_client: grpc.Client;
let parts_client: grpc.Client;

beforeAll(async () => {
  stockroom = await startStockroom();
  inventory_client = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
  parts_client = stockroom.grpcClient('stockroom.parts.v1.PartsService');
});

afterAll(async () => {
  await stockroom?.close();
});

const PERMISSION_DENIED = { code: '42501' };

/**
 * The message each trigger-enforced check raises with (migration 0004b). Citus relays a worker's error
 * with its SQLSTATE and message but without the constraint field, so there the check is told by its message.
 */
const CHECK_MESSAGES: Record<string, RegExp> = {
  inventory_movements_on_hand_after_derived: /^on_hand_after is derived from the ledger/,
  inventory_movements_outbound_held: /^an OUTBOUND movement must ship units its reference holds$/,
  inventory_reservations_moves: /^a (new hold starts with nothing committed or released|hold changes only by reserve, release or commit)$/,
  work_order_lines_match_movement: /^a work-order line repeats its ISSUE or RETURN movement/,
  part_movements_unit_cost_of_layer: /^a movement carries its layer's unit cost/,
};
const refusedBy = (constraint: string) => ({
  code: '23514',
  message: expect.stringMatching(CHECK_MESSAGES[constraint]),
  ...(citusWorkerUrls().length > 0 ? {} : { constraint }),
});

/** Runs SQL as the service's runtime role in the tenant's transaction. */
function asService(tenant: string, text: string, params: unknown[] = []) {
  return rawQuery(text, params, { as_app_role: true, tenant });
}

/** An inventory tenant with product A: 10 received, 4 held by O-1. */
async function inventoryTenant(prefix: string) {
  const { tenant, call } = await newTenant(stockroom, inventory_client, prefix);
  await call('CreateItem', { productId: 'A', sku: 'SKU-A', name: 'Anvil', reorderPoint: 0 });
  await call('RecordInbound', { productId: 'A', quantity: 10, reference: 'PO-1' });
  await call('Reserve', { items: [{ productId: 'A', quantity: 4 }], reference: 'O-1' });
  const [item] = await rawQuery<{ id: string }>('select id from inventory_items where tenant_id = $1', [tenant]);
  return { tenant, call, item_id: item.id };
}

/** The item as its ledger and holds say it must be, next to what it stores. */
async function inventoryTruth(tenant: string) {
  const [row] = await rawQuery<Record<string, string>>(
    `select i.on_hand::text, i.reserved::text,
            (select coalesce(sum(quantity), 0)::text from inventory_movements m where m.tenant_id = i.tenant_id and m.item_id = i.id) as ledger,
            (select coalesce(sum(held), 0)::text from inventory_reservations r where r.tenant_id = i.tenant_id and r.item_id = i.id) as holds
     from inventory_items i where i.tenant_id = $1`,
    [tenant],
  );
  return row;
}

/** A parts tenant with one part at one location: 5 received at 1.0000, 1 issued to WO-1. */
async function partsTenant(prefix: string) {
  const { tenant, call } = await newTenant(stockroom, parts_client, prefix);
  const { part } = await call('CreatePart', { part: { partNumber: 'P-1', name: 'Gasket' } });
  const { location } = await call('CreateLocation', { location: { site: 'PLANT', name: 'Crib' } });
  const { batch } = await call('ReceiveParts', { partId: part.id, locationId: location.id, qty: '5', unitCost: '1' });
  await call('IssueToWorkOrder', { workOrderId: 'WO-1', partId: part.id, locationId: location.id, qty: '1' });
  return { tenant, call, part, location, batch };
}

async function expectPartsClean(call: TenantCall) {
  const health = await call('CheckInventoryHealth', {});
  expect(health.healthy).toBe(true);
}

describe('forged writes the database refuses, as the runtime role', () => {
  it("1. an item's on_hand changed by 100 with no movement", async () => {
    const { tenant } = await inventoryTenant('forge-onhand');
    await expect(asService(tenant, 'update inventory_items set on_hand = on_hand + 100 where tenant_id = $1', [tenant])).rejects.toMatchObject(PERMISSION_DENIED);
    await expect(
      asService(tenant, `insert into inventory_items (tenant_id, product_id, name, on_hand) values ($1, 'B', 'Free stock', 100)`, [tenant]),
    ).rejects.toMatchObject(PERMISSION_DENIED);
    expect(await inventoryTruth(tenant)).toEqual({ on_hand: '10', reserved: '4', ledger: '10', holds: '4' });
  });

  it("2. an item's reserved set to 0 while its reservation lines still hold units", async () => {
    const { tenant } = await inventoryTenant('forge-reserved');
    await expect(asService(tenant, 'update inventory_items set reserved = 0 where tenant_id = $1', [tenant])).rejects.toMatchObject(PERMISSION_DENIED);
    expect(await inventoryTruth(tenant)).toEqual({ on_hand: '10', reserved: '4', ledger: '10', holds: '4' });
  });

  it('3. a movement with on_hand_after = 999999', async () => {
    const { tenant, item_id } = await inventoryTenant('forge-after');
    await expect(
      asService(
        tenant,
        `insert into inventory_movements (tenant_id, item_id, type, quantity, on_hand_after, created_by) values ($1, $2, 'INBOUND', 1, 999999, 'mallory')`,
        [tenant, item_id],
      ),
    ).rejects.toMatchObject(refusedBy('inventory_movements_on_hand_after_derived'));
    // Written as the service does (no on_hand_after), a movement is applied and its on_hand_after derived.
    const [movement] = await asService(
      tenant,
      `insert into inventory_movements (tenant_id, item_id, type, quantity, created_by) values ($1, $2, 'INBOUND', 1, 'svc') returning on_hand_after::text`,
      [tenant, item_id],
    );
    expect(movement).toEqual({ on_hand_after: '11' });
    expect(await inventoryTruth(tenant)).toEqual({ on_hand: '11', reserved: '4', ledger: '11', holds: '4' });
  });

  it('4. a reservation line with committed = 50 and no stock change', async () => {
    const { tenant, item_id } = await inventoryTenant('forge-commit');
    await expect(asService(tenant, `update inventory_reservations set committed = 50 where tenant_id = $1`, [tenant])).rejects.toMatchObject(PERMISSION_DENIED);
    await expect(
      asService(tenant, `insert into inventory_reservations (tenant_id, reference, item_id, held, committed) values ($1, 'O-2', $2, 0, 50)`, [tenant, item_id]),
    ).rejects.toMatchObject(PERMISSION_DENIED);
    // Units reach released only out of held (and committed only through an OUTBOUND movement).
    await expect(asService(tenant, `update inventory_reservations set released = released + 4 where tenant_id = $1`, [tenant])).rejects.toMatchObject(
      refusedBy('inventory_reservations_moves'),
    );
    await expect(
      asService(tenant, `insert into inventory_movements (tenant_id, item_id, type, quantity, reference, created_by) values ($1, $2, 'OUTBOUND', -5, 'O-1', 'mallory')`, [
        tenant,
        item_id,
      ]),
    ).rejects.toMatchObject(refusedBy('inventory_movements_outbound_held'));
    expect(await inventoryTruth(tenant)).toEqual({ on_hand: '10', reserved: '4', ledger: '10', holds: '4' });
  });

  it('5. a work-order line of 123 units pointing at a RECEIVE movement', async () => {
    const { tenant, call, part, location, batch } = await partsTenant('forge-line');
    const [receive] = await rawQuery<{ id: string }>(`select id::text from part_movements where tenant_id = $1 and type = 'RECEIVE'`, [tenant]);
    await expect(
      asService(
        tenant,
        `insert into work_order_lines (tenant_id, work_order_id, part_id, location_id, batch_id, movement_id, qty_used, unit_cost_snapshot, total_cost)
         values ($1, 'WO-1', $2, $3, $4, $5, 123, 1, 123)`,
        [tenant, part.id, location.id, batch.id, receive.id],
      ),
    ).rejects.toMatchObject(refusedBy('work_order_lines_match_movement'));
    await expectPartsClean(call);
  });

  it("6. a movement whose unit_cost differs from its layer's", async () => {
    const { tenant, call, part, location, batch } = await partsTenant('forge-cost');
    await expect(
      asService(
        tenant,
        `insert into part_movements (tenant_id, type, part_id, location_id, batch_id, to_location_id, qty_delta, unit_cost, reason, created_by)
         values ($1, 'ADJUSTMENT', $2, $3, $4, $3, 1, 7.5, 'x', 'mallory')`,
        [tenant, part.id, location.id, batch.id],
      ),
    ).rejects.toMatchObject(refusedBy('part_movements_unit_cost_of_layer'));
    await expectPartsClean(call);
  });

  it('7. a part balance that no longer matches its layers', async () => {
    const { tenant, call, part, location, batch } = await partsTenant('forge-balance');
    const forged = [
      ['update part_balances set qty_on_hand = qty_on_hand + 1 where tenant_id = $1', [tenant]],
      ['update part_batches set qty_on_hand = qty_on_hand - 1 where tenant_id = $1', [tenant]],
      [
        `insert into part_batches (tenant_id, part_id, location_id, qty_received, qty_on_hand, unit_cost, received_at) values ($1, $2, $3, 5, 5, 1, now())`,
        [tenant, part.id, location.id],
      ],
    ] as const;
    for (const [text, params] of forged) await expect(asService(tenant, text, [...params])).rejects.toMatchObject(PERMISSION_DENIED);
    // A movement (the only way in) moves the layer and the balance together.
    await asService(
      tenant,
      `insert into part_movements (tenant_id, type, part_id, location_id, batch_id, from_location_id, qty_delta, unit_cost, reason, created_by)
       values ($1, 'ADJUSTMENT', $2, $3, $4, $3, -1, 1, 'shrinkage', 'svc')`,
      [tenant, part.id, location.id, batch.id],
    );
    const [row] = await rawQuery<Record<string, string>>(
      `select (select qty_on_hand::text from part_balances where tenant_id = $1) as balance,
              (select qty_on_hand::text from part_batches where tenant_id = $1) as layer,
              (select sum(qty_delta)::text from part_movements where tenant_id = $1) as ledger`,
      [tenant],
    );
    expect(row).toEqual({ balance: '3.000', layer: '3.000', ledger: '3.000' });
    await expectPartsClean(call);
  });
});

describe('balances derived from the ledger', () => {
  it('stay equal to their ledger and holds through every inventory operation', async () => {
    const { tenant, call } = await inventoryTenant('derived-inventory');
    await call('Reserve', { items: [{ productId: 'A', quantity: 2 }], reference: 'O-2' });
    await call('Release', { items: [{ productId: 'A', quantity: 1 }], reference: 'O-1' });
    await call('CommitOutbound', { items: [{ productId: 'A', quantity: 3 }], reference: 'O-1', notes: '' });
    await call('RecordReturn', { productId: 'A', quantity: 1, reference: 'RMA-1' });
    await call('RecordDamage', { productId: 'A', quantity: 2, reference: 'DMG-1' });
    await call('AdjustInventory', { productId: 'A', quantityDelta: -1, reason: 'count' });
    const { item } = await call('GetItem', { productId: 'A' });
    expect(item).toMatchObject({ onHand: '5', reserved: '2' });
    expect(await inventoryTruth(tenant)).toEqual({ on_hand: '5', reserved: '2', ledger: '5', holds: '2' });
    const { movements } = await call('ListMovements', { pageSize: 10 });
    expect(movements.map((movement: any) => movement.onHandAfter)).toEqual(['5', '6', '8', '7', '10']);
  });

  it('stay equal to their layers and ledger through every parts operation', async () => {
    const { call, part, location } = await partsTenant('derived-parts');
    const { location: other } = await call('CreateLocation', { location: { site: 'PLANT', name: 'Dock' } });
    await call('ReceiveParts', { partId: part.id, locationId: location.id, qty: '3', unitCost: '2' });
    await call('TransferBetweenLocations', { partId: part.id, fromLocationId: location.id, toLocationId: other.id, qty: '5' });
    await call('ReturnFromWorkOrder', { workOrderId: 'WO-1', partId: part.id, locationId: location.id, qty: '1' });
    await call('AdjustStock', { partId: part.id, locationId: other.id, qtyDelta: '-1', reason: 'lost' });
    await call('RecordCount', { partId: part.id, locationId: other.id, countedQty: '6', reason: 'found', unitCost: '3' });
    await call('ReturnToVendor', { partId: part.id, locationId: location.id, qty: '1', reason: 'bad' });
    await expectPartsClean(call);
    const stock = await call('GetLocationsOnHand', { partId: part.id });
    expect(stock.locations.map((at: any) => at.qtyOnHand).sort()).toEqual(['2.000', '6.000']);
  });
});
