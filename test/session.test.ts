/**
 * Explicit sessions (issue 10, item 3): whatever defaults a database or
 * role carries, every connection the service opens pins the settings the
 * code relies on, and the inventory flow works on such a database.
 */
import pg from 'pg';
import { migrate } from '../src/db/migrate.js';
import { NON_ISO_DEFAULTS, SESSION_SETTINGS } from '../src/db/session.js';
import { call, createScratchDatabase, startStockroom, type ScratchDatabase, type TestStockroom } from './support/harness.js';

let scratch: ScratchDatabase;
let stockroom: TestStockroom;

beforeAll(async () => {
  scratch = await createScratchDatabase('stockroom_session', { defaults: [...NON_ISO_DEFAULTS, `search_path = '"$user"'`] });
  await migrate(scratch.url);
  stockroom = await startStockroom({ STOCKROOM_DATABASE_URL: scratch.url });
});

afterAll(async () => {
  await stockroom?.close();
  await scratch?.drop();
});

const SHOWN = `select current_setting('DateStyle') as datestyle, current_setting('TimeZone') as timezone,
  current_setting('IntervalStyle') as intervalstyle, current_setting('extra_float_digits') as extra_float_digits,
  current_setting('bytea_output') as bytea_output, current_setting('search_path') as search_path,
  current_setting('standard_conforming_strings') as standard_conforming_strings,
  current_setting('client_encoding') as client_encoding, current_setting('transaction_isolation') as transaction_isolation,
  current_setting('row_security') as row_security`;

test('the database default differs from what the code relies on', async () => {
  const plain = new pg.Client({ connectionString: scratch.url });
  await plain.connect();
  try {
    const [shown] = (await plain.query(SHOWN)).rows;
    expect(shown).toMatchObject({ datestyle: 'SQL, DMY', timezone: 'America/Sao_Paulo', intervalstyle: 'sql_standard', bytea_output: 'escape' });
  } finally {
    await plain.end();
  }
});

test('a service connection pins its session settings even when the database default differs', async () => {
  const connection = stockroom.app.database.orm.em.fork().getConnection();
  const [shown] = await connection.execute(SHOWN);
  expect(shown).toEqual({
    datestyle: 'ISO, YMD',
    timezone: 'UTC',
    intervalstyle: 'postgres',
    extra_float_digits: SESSION_SETTINGS.extra_float_digits,
    bytea_output: 'hex',
    search_path: 'public',
    standard_conforming_strings: 'on',
    client_encoding: 'UTF8',
    transaction_isolation: 'read committed',
    row_security: 'on',
  });
});

test('the inventory flow reads its timestamps on a SQL, DMY / São Paulo database', async () => {
  const client = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
  const token = await stockroom.token({ tenant: 'session-dmy' });
  const rpc = (method: string, request: object) => call(client, method, request, token);
  const started_ms = Date.now();
  await rpc('CreateItem', { productId: 'DMY-1', sku: 'SKU-DMY-1', name: 'Day first', reorderPoint: 1 });
  await rpc('RecordInbound', { productId: 'DMY-1', quantity: 5, reference: 'PO-DMY' });
  await rpc('Reserve', { items: [{ productId: 'DMY-1', quantity: 2 }], reference: 'ORDER-DMY' });
  const item = (await rpc('GetItem', { productId: 'DMY-1' })).item;
  expect(item).toMatchObject({ onHand: '5', reserved: '2' });
  expect((await rpc('ListItems', {})).items).toHaveLength(1);
  const movements = (await rpc('ListMovements', {})).movements;
  expect(movements).toHaveLength(1);
  const created_ms = Number(movements[0].createTime.seconds) * 1000;
  // A timestamp read as DMY or in São Paulo time would be days or hours off.
  expect(Math.abs(created_ms - started_ms)).toBeLessThan(60_000);
});
