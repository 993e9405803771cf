/**
 * Responses list their lines in a stable, documented order (see the proto
 * comments), never in the order of internal ids, so that two runs of the
 * same calls answer alike: Release of everything by product id, parts
 * Reconcile by part number, then location site and name.
 */
import { newTenant, startStockroom, type TestStockroom } from './support/harness.js';

let stockroom: TestStockroom;
beforeAll(async () => {
  stockroom = await startStockroom();
});
afterAll(() => stockroom.close());

// Created in this order, so internal ids cannot sort the same way by chance for all of them.
const PRODUCTS = ['P-5', 'P-2', 'P-9', 'P-1', 'P-7', 'P-3', 'P-8', 'P-4'];

test('Release with no lines answers by product id; with lines, in the order the request names them', async () => {
  const { call: inventory } = await newTenant(stockroom, stockroom.grpcClient('stockroom.inventory.v1.InventoryService'), 'order');
  for (const product of PRODUCTS) {
    await inventory('CreateItem', { productId: product, sku: product, name: product });
    await inventory('RecordInbound', { productId: product, quantity: '5', reference: 'PO' });
  }
  const items = PRODUCTS.map((productId) => ({ productId, quantity: '2' }));
  await inventory('Reserve', { items, reference: 'ORDER-ALL' });
  const partly = await inventory('Release', { items: [{ productId: 'P-9', quantity: '1' }, { productId: 'P-1', quantity: '1' }], reference: 'ORDER-ALL' });
  expect(partly.lines.map((line: { productId: string }) => line.productId)).toEqual(['P-9', 'P-1']);
  const released = await inventory('Release', { items: [], reference: 'ORDER-ALL' });
  expect(released.lines.map((line: { productId: string }) => line.productId)).toEqual([...PRODUCTS].sort());
  expect(released.items.map((item: { productId: string }) => item.productId)).toEqual([...PRODUCTS].sort());
});

test('parts Reconcile answers by part number, then location site and name, across pages', async () => {
  const { call: parts } = await newTenant(stockroom, stockroom.grpcClient('stockroom.parts.v1.PartsService'), 'order');
  const locations = [];
  for (const [site, name] of [['WEST', 'B'], ['EAST', 'Z'], ['WEST', 'A']]) locations.push((await parts('CreateLocation', { location: { site, name } })).location);
  for (const number of ['K-3', 'K-1', 'K-2']) {
    const { part } = await parts('CreatePart', { part: { partNumber: number, name: number } });
    for (const location of locations) await parts('ReceiveParts', { partId: part.id, locationId: location.id, qty: '1', unitCost: '1' });
  }
  const rows: { partNumber: string; site: string; locationName: string }[] = [];
  let pageToken = '';
  do {
    const page = await parts('Reconcile', { pageSize: 4, pageToken });
    rows.push(...page.rows);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  expect(rows.map((row) => `${row.partNumber} ${row.site}/${row.locationName}`)).toEqual(
    ['K-1', 'K-2', 'K-3'].flatMap((number) => [`${number} EAST/Z`, `${number} WEST/A`, `${number} WEST/B`]),
  );
});
