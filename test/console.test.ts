/**
 * The admin console end to end: Debian's Chromium (headless, through
 * playwright-core) against the real server on the run's PostgreSQL, signed
 * in with real tokens, with the test making API calls beside the browser the
 * way another service would. Screenshots of the main pages go to
 * .data/screenshots. Skips, saying why, when Chromium is not installed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import playwright, { type BrowserContext, type Locator, type Page } from 'playwright-core';
import { call, newTenant, startStockroom, type TestStockroom } from './support/harness.js';

const CHROMIUM = process.env.STOCKROOM_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = path.resolve(import.meta.dirname, '../.data/screenshots');
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  console.warn(`test/console.test.ts: SKIPPED, no Chromium at ${CHROMIUM} (apt-get install chromium, or set STOCKROOM_CHROMIUM)`);
}
const describeWithBrowser = HAVE_CHROMIUM ? describe : describe.skip;

// Quick to fail: a missing element should fail in seconds, not hang the run.
const STEP_TIMEOUT_MS = 10_000;

describeWithBrowser('admin console in Chromium', () => {
  let stockroom: TestStockroom;
  let inventory: grpc.Client;
  let parts: grpc.Client;
  let context: BrowserContext;
  let user_data_dir: string;
  // Errors thrown in the page; every test ends by expecting none.
  const page_errors: string[] = [];

  beforeAll(async () => {
    stockroom = await startStockroom();
    inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
    parts = stockroom.grpcClient('stockroom.parts.v1.PartsService');
    user_data_dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stockroom-chromium-'));
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    context = await playwright.chromium.launchPersistentContext(user_data_dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync', '--disable-quic'],
      viewport: { width: 1280, height: 900 },
    });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
  });

  afterEach(() => {
    expect(page_errors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await context?.close();
    await stockroom?.close();
    if (user_data_dir) fs.rmSync(user_data_dir, { recursive: true, force: true });
  });

  /** A new tab signed in through the token link, as `npm run token` prints it. */
  async function signIn(token: string, path = '/'): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => page_errors.push(error.message));
    await page.goto(`${stockroom.url}/admin${path}#token=${token}`);
    await page.getByTestId('who-sub').waitFor();
    return page;
  }

  /** The form whose heading is `title`. */
  function form(page: Page, title: string): Locator {
    return page.locator('form.action-form', { has: page.getByRole('heading', { name: title, exact: true }) });
  }

  function fact(page: Page, name: string): Locator {
    return page.locator(`dd[data-fact="${name}"]`);
  }

  /** Closes a tab once its calls have finished, so the server does not log streams cut mid-response. */
  async function close(page: Page): Promise<void> {
    // Past the live-update debounce (250 ms), then until its re-reads are done.
    await page.waitForTimeout(400);
    await page.locator('button.refresh[aria-busy="false"]').waitFor();
    await page.close();
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  test('sign in by link; create, receive, hold from the API, commit part in the UI; field errors beside the field', async () => {
    const { token, tenant, call: inventoryCall } = await newTenant(stockroom, inventory, 'console-inv', { sub: 'alice' });
    const page = await signIn(token);
    // The token left the address bar (and history) and the header says who we are.
    expect(page.url()).toBe(`${stockroom.url}/admin/`);
    expect(await page.evaluate(() => (globalThis as unknown as { history: { length: number } }).history.length)).toBeLessThanOrEqual(2);
    await expect(page.getByTestId('who-sub').textContent()).resolves.toBe('alice');
    await expect(page.getByTestId('who-tenant').textContent()).resolves.toBe(tenant);
    await expect(page.getByTestId('who-role').textContent()).resolves.toBe('admin');

    const create = form(page, 'Create item');
    await create.getByLabel('Product id').fill('widget-1');
    await create.getByLabel('Name').fill('Blue widget');
    await create.getByLabel('Reorder point').fill('2');
    await create.getByRole('button', { name: 'Create item' }).click();
    await page.waitForURL('**/admin/items/widget-1');

    const inbound = form(page, 'Inbound');
    // A bad quantity: the server's BadRequest violation appears beside the field it names.
    await inbound.getByLabel('Quantity received').fill('0');
    await inbound.getByRole('button', { name: 'Record inbound' }).click();
    const field_error = inbound.locator('[data-field="quantity"] .field-error');
    await field_error.waitFor();
    expect(await field_error.textContent()).toMatch(/\S/);
    await expect(inbound.getByLabel('Quantity received').getAttribute('aria-invalid')).resolves.toBe('true');
    await shot(page, 'field-error');

    await inbound.getByLabel('Quantity received').fill('10');
    await inbound.getByLabel('Reference').fill('PO-1');
    await inbound.getByRole('button', { name: 'Record inbound' }).click();
    await inbound.getByRole('status').waitFor();
    await expect(fact(page, 'On hand').textContent()).resolves.toBe('10');

    // Another service reserves through the API; the console shows the hold.
    await inventoryCall('reserve', { reference: 'order-7', items: [{ productId: 'widget-1', quantity: '4' }] });
    // No click: the page follows the event stream.
    await page.locator('dd[data-fact="Reserved"]', { hasText: '4' }).waitFor();
    await expect(page.getByTestId('live').textContent()).resolves.toBe('● live');
    const hold = page.locator('table[data-table="holds"] tr[data-reference="order-7"]');
    await expect(hold.locator('[data-col="held"]').textContent()).resolves.toBe('4');
    await hold.getByRole('link', { name: 'order-7' }).click();
    await page.waitForURL('**/admin/reservations/order-7');
    const line = page.locator('tr[data-product="widget-1"]');
    await expect(line.locator('[data-col="held"]').textContent()).resolves.toBe('4');

    const commit = form(page, 'Commit (ship)');
    await commit.getByLabel('Quantity to ship').fill('3');
    await commit.getByRole('button', { name: 'Commit' }).click();
    await line.locator('[data-col="committed"]', { hasText: '3' }).waitFor();
    await expect(line.locator('[data-col="held"]').textContent()).resolves.toBe('1');
    await shot(page, 'reservation');

    await line.getByRole('link', { name: 'widget-1' }).click();
    await page.waitForURL('**/admin/items/widget-1');
    await page.locator('dd[data-fact="On hand"]', { hasText: '7' }).waitFor();
    await expect(fact(page, 'Reserved').textContent()).resolves.toBe('1');
    // Cached pages show at once and re-read behind: wait for the re-read, not the first paint.
    await hold.locator('[data-col="held"]', { hasText: /^1$/ }).waitFor();
    const newest = page.locator('table[data-table="movements"] tbody tr').first();
    await page.locator('table[data-table="movements"] tbody tr', { hasText: 'OUTBOUND' }).waitFor();
    await expect(newest.textContent()).resolves.toMatch(/OUTBOUND\s*-37order-7/);
    await shot(page, 'item');

    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'item-narrow');
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Items', exact: true }).click();
    await page.locator('tbody tr', { hasText: 'widget-1' }).waitFor();
    await shot(page, 'items');

    // The inventory's own checks agree with what the console just did.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Operations', exact: true }).click();
    await page.getByRole('button', { name: 'Run inventory health check' }).click();
    await page.getByRole('region', { name: 'Inventory health check' }).locator('[data-health="healthy"]').waitFor();
    await page.getByRole('button', { name: 'Run inventory reconcile' }).click();
    await page.getByText('Items, holds and the ledger agree.').waitFor();
    await close(page);
  });

  test('three layers, an issue across two in FIFO order, the layer chart, a transfer, and a shortage', async () => {
    const { token, call: partsCall } = await newTenant(stockroom, parts, 'console-parts', { sub: 'bob' });
    const { part } = await partsCall('createPart', { part: { partNumber: 'BRG-6204', name: 'Bearing 6204', make: 'SKF', category: 'bearings' } });
    await partsCall('createLocation', { location: { site: 'MAIN', name: 'Store A' } });
    await partsCall('createLocation', { location: { site: 'MAIN', name: 'Store B' } });
    const page = await signIn(token, `/parts/${part.id}`);

    const receive = form(page, 'Receive');
    for (const [date, cost] of [['2026-01-10', '1.00'], ['2026-02-10', '2.00'], ['2026-03-10', '3.00']]) {
      await receive.getByLabel('Location').selectOption({ label: 'MAIN / Store A' });
      await receive.getByLabel('Quantity received').fill('5');
      await receive.getByLabel('Unit cost').fill(cost);
      await receive.getByLabel('Received date').fill(date);
      await receive.getByRole('button', { name: 'Receive' }).click();
      await receive.getByRole('status').waitFor();
      await receive.getByRole('button', { name: 'Receive' }).isEnabled();
    }
    const layers_a = page.locator('[data-layers-at="MAIN / Store A"]');
    await layers_a.locator('rect[data-segment]').nth(2).waitFor();
    await expect(layers_a.locator('rect[data-segment]').count()).resolves.toBe(3);
    await shot(page, 'part-three-layers');

    const issue = form(page, 'Issue to work order');
    await issue.getByLabel('Work order').fill('WO-42');
    await issue.getByLabel('Location').selectOption({ label: 'MAIN / Store A' });
    await issue.getByLabel('Quantity to issue').fill('7');
    await issue.getByRole('button', { name: 'Issue' }).click();
    const allocations = issue.locator('table[data-table="allocations"] tbody tr');
    await allocations.first().waitFor();
    // Oldest layer first: all 5 of January at 1.0000, then 2 of February at 2.0000.
    await expect(allocations.allTextContents()).resolves.toEqual([
      expect.stringMatching(/2026-01-105\.0001\.00005\.0000000$/),
      expect.stringMatching(/2026-02-102\.0002\.00004\.0000000$/),
    ]);
    // The chart changed: January is gone, February has 3 left.
    await layers_a.locator('rect[data-segment]').nth(2).waitFor({ state: 'detached' });
    await expect(layers_a.locator('rect[data-segment]').evaluateAll((rects) => rects.map((rect) => rect.getAttribute('data-segment')))).resolves.toEqual([
      '2.0000 (2026-02-10)',
      '3.0000 (2026-03-10)',
    ]);
    await shot(page, 'part-after-issue');

    const transfer = form(page, 'Transfer');
    await transfer.getByLabel('From', { exact: true }).selectOption({ label: 'MAIN / Store A' });
    await transfer.getByLabel('To', { exact: true }).selectOption({ label: 'MAIN / Store B' });
    await transfer.getByLabel('Quantity to move').fill('4');
    await transfer.getByRole('button', { name: 'Transfer' }).click();
    await transfer.getByRole('status').waitFor();
    // The destination got new layers that keep the source layers' cost and dates.
    const layers_b = page.locator('[data-layers-at="MAIN / Store B"]');
    await layers_b.waitFor();
    await expect(layers_b.locator('table[data-table="layers"] tbody tr').allTextContents()).resolves.toEqual([
      expect.stringMatching(/^2026-02-103\.0002\.00006\.0000000/),
      expect.stringMatching(/^2026-03-101\.0003\.00003\.0000000/),
    ]);
    await expect(page.locator('tr[data-location="MAIN / Store B"] [data-col="qty"]').textContent()).resolves.toBe('4.000');

    // More than there is: requested and available, per line.
    await issue.getByLabel('Work order').fill('WO-42');
    await issue.getByLabel('Location').selectOption({ label: 'MAIN / Store A' });
    await issue.getByLabel('Quantity to issue').fill('100');
    await issue.getByRole('button', { name: 'Issue' }).click();
    const short = issue.locator('table.short-lines tbody tr');
    await short.waitFor();
    await expect(short.locator('[data-label="requested"]').textContent()).resolves.toBe('100.000');
    await expect(short.locator('[data-label="available"]').textContent()).resolves.toBe('4.000');
    await expect(short.textContent()).resolves.toContain('BRG-6204 (MAIN / Store A)');
    await expect(issue.getByRole('alert').textContent()).resolves.toContain('INSUFFICIENT_STOCK');
    await shot(page, 'part');

    await page.goto(`${stockroom.url}/admin/work-orders/WO-42`);
    await expect(fact(page, 'Parts cost').textContent()).resolves.toBe('9.0000000');
    await shot(page, 'work-order');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Locations', exact: true }).click();
    await page.getByRole('img', { name: /Value of stock on hand per location/ }).first().waitFor();
    await shot(page, 'locations');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Operations', exact: true }).click();
    await page.getByRole('button', { name: 'Run parts health check' }).click();
    await page.getByRole('region', { name: 'Parts health check' }).locator('[data-health="healthy"]').waitFor();
    await page.getByRole('button', { name: 'Run parts reconcile' }).click();
    await page.getByText('Ledger, layers and balances agree.').waitFor();
    await shot(page, 'operations');
    await close(page);
  });

  test('a viewer sees the stock but no write actions', async () => {
    const { tenant, call: partsCall } = await newTenant(stockroom, parts, 'console-view');
    const admin = (await stockroom.token({ tenant, roles: ['admin'] })) as string;
    await call(inventory, 'createItem', { productId: 'gadget-1', name: 'Gadget' }, admin);
    const { part } = await partsCall('createPart', { part: { partNumber: 'P-1', name: 'Pin' } });
    await partsCall('createLocation', { location: { site: 'MAIN', name: 'Bin 1' } });
    const viewer = await stockroom.token({ tenant, roles: ['viewer'], sub: 'victor' });
    const page = await signIn(viewer);
    await expect(page.getByTestId('who-role').textContent()).resolves.toBe('viewer');
    await page.locator('tbody tr', { hasText: 'gadget-1' }).waitFor();
    await expect(page.locator('form.action-form').count()).resolves.toBe(0);
    await expect(page.getByRole('link', { name: 'Operations' }).count()).resolves.toBe(0);

    await page.getByRole('link', { name: 'gadget-1' }).click();
    await page.locator('dd[data-fact="On hand"]').waitFor();
    await page.getByRole('heading', { name: 'Movements' }).waitFor();
    await expect(page.locator('form.action-form').count()).resolves.toBe(0);
    await expect(page.getByRole('button', { name: /Record|Adjust|Save|Commit|Release/ }).count()).resolves.toBe(0);

    await page.goto(`${stockroom.url}/admin/parts/${part.id}`);
    await page.getByRole('heading', { name: 'FIFO layers' }).waitFor();
    await page.locator('tr[data-location="MAIN / Bin 1"]').waitFor();
    await expect(page.locator('form.action-form').count()).resolves.toBe(0);
    await shot(page, 'viewer-part');
    await close(page);
  });
});
