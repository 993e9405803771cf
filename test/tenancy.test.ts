/**
 * Tenants cannot see each other, through the API or through the database
 * role the service runs as. The second line of defence is checked on its own:
 * a query that forgets the tenant filter still returns nothing of another tenant.
 */
import * as grpc from '@grpc/grpc-js';
import { call, expectError, rawQuery, startStockroom, testRuntimeRole, uniqueTenant, type TestStockroom } from './support/harness.js';

const APP_ROLE = testRuntimeRole();

describe('tenant isolation', () => {
  let stockroom: TestStockroom;
  let inventory: grpc.Client;
  let parts: grpc.Client;
  const tenant_a = uniqueTenant('tenant-a');
  const tenant_b = uniqueTenant('tenant-b');
  let token_a: string;
  let token_b: string;
  let part_id_a: string;
  let location_id_a: string;

  beforeAll(async () => {
    stockroom = await startStockroom();
    inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
    parts = stockroom.grpcClient('stockroom.parts.v1.PartsService');
    token_a = await stockroom.token({ tenant: tenant_a, roles: ['admin'], sub: 'alice' });
    token_b = await stockroom.token({ tenant: tenant_b, roles: ['admin'], sub: 'bob' });

    // Tenant A: an item with stock and a reservation, a part with stock issued to a work order.
    await call(inventory, 'createItem', { productId: 'SHARED-1', sku: 'S-1', name: 'Widget', reorderPoint: '2' }, token_a);
    await call(inventory, 'recordInbound', { productId: 'SHARED-1', quantity: '10', reference: 'PO-1' }, token_a);
    await call(inventory, 'reserve', { items: [{ productId: 'SHARED-1', quantity: '3' }], reference: 'ORDER-1' }, token_a);
    const part = await call(parts, 'createPart', { part: { partNumber: 'P-SHARED', name: 'Bearing' } }, token_a);
    part_id_a = part.part.id;
    const location = await call(parts, 'createLocation', { location: { site: 'MAIN', name: 'Shelf A' } }, token_a);
    location_id_a = location.location.id;
    await call(parts, 'receiveParts', { partId: part_id_a, locationId: location_id_a, qty: '5', unitCost: '2.5' }, token_a);
    await call(parts, 'issueToWorkOrder', { workOrderId: 'WO-1', partId: part_id_a, locationId: location_id_a, qty: '1' }, token_a);
  });
  afterAll(() => stockroom.close());

  test('tenant B cannot list or read tenant A items, reservations or movements', async () => {
    expect((await call(inventory, 'listItems', {}, token_b)).items).toEqual([]);
    expect((await call(inventory, 'listMovements', {}, token_b)).movements).toEqual([]);
    expect((await expectError(call(inventory, 'getItem', { productId: 'SHARED-1' }, token_b))).code).toBe(grpc.status.NOT_FOUND);
    expect((await expectError(call(inventory, 'getReservation', { reference: 'ORDER-1' }, token_b))).code).toBe(grpc.status.NOT_FOUND);
  });

  test('tenant B cannot reserve, issue or reconcile tenant A stock', async () => {
    const reserve = await expectError(call(inventory, 'reserve', { items: [{ productId: 'SHARED-1', quantity: '1' }], reference: 'ORDER-B' }, token_b));
    expect(reserve.code).toBe(grpc.status.NOT_FOUND);
    const issue = await expectError(call(parts, 'issueToWorkOrder', { workOrderId: 'WO-B', partId: part_id_a, locationId: location_id_a, qty: '1' }, token_b));
    expect(issue.code).toBe(grpc.status.NOT_FOUND);
    expect((await call(parts, 'listParts', {}, token_b)).parts).toEqual([]);
    expect((await expectError(call(parts, 'getPart', { partId: part_id_a }, token_b))).code).toBe(grpc.status.NOT_FOUND);
    expect((await call(parts, 'reconcile', {}, token_b)).rows).toEqual([]);
    expect((await call(parts, 'getWorkOrderParts', { workOrderId: 'WO-1' }, token_b)).lines ?? []).toEqual([]);
  });

  test("tenant B sees ALREADY_EXISTS nowhere for tenant A's keys", async () => {
    await expect(call(inventory, 'createItem', { productId: 'SHARED-1', sku: 'S-1', name: 'Widget B' }, token_b)).resolves.toBeDefined();
    await expect(call(parts, 'createPart', { part: { partNumber: 'P-SHARED', name: 'Bearing B' } }, token_b)).resolves.toBeDefined();
    await expect(call(parts, 'createLocation', { location: { site: 'MAIN', name: 'Shelf A' } }, token_b)).resolves.toBeDefined();
    // The same idempotency key in another tenant is another key.
    const key = 'shared-idempotency-key';
    await call(inventory, 'recordInbound', { productId: 'SHARED-1', quantity: '1', reference: 'PO-A', idempotencyKey: key }, token_a);
    const b = await call(inventory, 'recordInbound', { productId: 'SHARED-1', quantity: '4', reference: 'PO-B', idempotencyKey: key }, token_b);
    expect(b.item.onHand).toBe('4');
  });

  test('a page token from one tenant means nothing in another', async () => {
    for (let index = 0; index < 3; index++) {
      await call(inventory, 'createItem', { productId: `PAGED-${index}`, sku: `P-${index}`, name: 'Paged' }, token_a);
    }
    const page = await call(inventory, 'listItems', { pageSize: 1 }, token_a);
    expect(page.nextPageToken).not.toBe('');
    const other = await expectError(call(inventory, 'listItems', { pageSize: 1, pageToken: page.nextPageToken }, token_b));
    expect(other.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(other.badRequest?.fieldViolations[0]?.field).toBe('page_token');
    await call(parts, 'createPart', { part: { partNumber: 'P-SECOND', name: 'Second' } }, token_a);
    const parts_next = await call(parts, 'listParts', { pageSize: 1 }, token_a);
    expect(parts_next.nextPageToken).not.toBe('');
    expect((await expectError(call(parts, 'listParts', { pageSize: 1, pageToken: parts_next.nextPageToken }, token_b))).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  describe('the database role', () => {
    let tables: string[];
    beforeAll(async () => {
      const rows = await rawQuery<{ table_name: string }>(
        `select table_name from information_schema.columns
         where table_schema = 'public' and column_name = 'tenant_id' order by table_name`,
      );
      tables = rows.map((row) => row.table_name);
    });

    test('every table but the migrations log has a tenant, FORCEd row-level security, and is not owned by the service role', async () => {
      const all = await rawQuery<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean; owner: string }>(
        `select c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) as owner
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind = 'r' and c.relname <> 'stockroom_migrations'`,
      );
      expect(all.length).toBeGreaterThan(5);
      for (const table of all) {
        // The one deployment-wide table: the NATS relay's progress (RLS lets only the relay task see it).
        const deployment_wide = table.relname === 'event_relays';
        expect({ table: table.relname, tenant: tables.includes(table.relname) }).toEqual({ table: table.relname, tenant: !deployment_wide });
        expect({ table: table.relname, rls: table.relrowsecurity, forced: table.relforcerowsecurity }).toEqual({ table: table.relname, rls: true, forced: true });
        expect(table.owner).not.toBe(APP_ROLE);
      }
      const [role] = await rawQuery<{ rolsuper: boolean; rolbypassrls: boolean }>(`select rolsuper, rolbypassrls from pg_roles where rolname = $1`, [APP_ROLE]);
      expect(role).toEqual({ rolsuper: false, rolbypassrls: false });
    });

    test("a raw query as the service role with tenant B set returns none of tenant A's rows", async () => {
      let seen_for_a = 0;
      for (const table of tables) {
        const [as_b] = await rawQuery<{ count: string }>(`select count(*) from ${table} where tenant_id = $1`, [tenant_a], { as_app_role: true, tenant: tenant_b });
        expect({ table, rows: Number(as_b.count) }).toEqual({ table, rows: 0 });
        const [unset] = await rawQuery<{ count: string }>(`select count(*) from ${table}`, [], { as_app_role: true });
        expect({ table, rows_without_tenant: Number(unset.count) }).toEqual({ table, rows_without_tenant: 0 });
        const [as_a] = await rawQuery<{ count: string }>(`select count(*) from ${table} where tenant_id = $1`, [tenant_a], { as_app_role: true, tenant: tenant_a });
        seen_for_a += Number(as_a.count);
      }
      // The policies hide, they do not lose: tenant A still sees its own rows.
      expect(seen_for_a).toBeGreaterThan(5);
    });

    test('the service role cannot write a row for another tenant', async () => {
      await expect(
        rawQuery(`update inventory_items set name = 'stolen' where tenant_id = $1`, [tenant_a], { as_app_role: true, tenant: tenant_b }),
      ).resolves.toEqual([]);
      const [item] = await rawQuery<{ name: string }>(`select name from inventory_items where tenant_id = $1 and product_id = 'SHARED-1'`, [tenant_a]);
      expect(item.name).toBe('Widget');
      const [column] = await rawQuery<{ column_name: string }>(
        `select column_name from information_schema.columns where table_name = 'inventory_items' and column_name = 'tenant_id'`,
      );
      expect(column).toBeDefined();
    });
  });
});
