/**
 * One runtime role per deployment (issue 10, item 4): the role belongs to
 * one database, membership in it opens nothing in another, migrations run
 * as a non-superuser owner with CREATEROLE (PostgreSQL 15 on the machine's
 * server, 17 embedded), and with a migration URL the service's login is not
 * the owner.
 */
import pg from 'pg';
import { migrate } from '../src/db/migrate.js';
import { defaultRuntimeRole, runtimeRoleFor } from '../src/db/runtime-role.js';
import { connectionConfig } from '../src/db/session.js';
import { call, createScratchDatabase, rawQuery, startStockroom, type ScratchDatabase } from './support/harness.js';

const PASSWORD = 'role-test-password';
const made_roles: string[] = [];
const scratches: ScratchDatabase[] = [];

async function asSuperuser<Row extends pg.QueryResultRow = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client(connectionConfig(url));
  await client.connect();
  try {
    return (await client.query<Row>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** A login role with a unique name, dropped after the file. */
async function loginRole(prefix: string, attributes = ''): Promise<string> {
  const name = `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
  await rawQuery(`create role ${name} login ${attributes} password '${PASSWORD}'`);
  made_roles.push(name);
  return name;
}

async function scratch(prefix: string, owner?: string): Promise<ScratchDatabase> {
  const database = await createScratchDatabase(prefix, { owner });
  scratches.push(database);
  return database;
}

/** Connects as `user`; resolves to the SQLSTATE of the refusal, or 'connected'. */
async function tryConnect(url: string, statements: readonly string[] = []): Promise<string> {
  const client = new pg.Client(connectionConfig(url));
  try {
    await client.connect();
    for (const statement of statements) await client.query(statement);
    return 'connected';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * What a deployment migrated before 0005b holds: makes `stockroom_app` if
 * missing and runs `grants` to it in the database at `url`. A fresh database
 * migrating in another test file drops an unused stockroom_app in its 0005b,
 * maybe between the making and the first grant (which then fails with
 * undefined_object); once a grant is in, PostgreSQL refuses to drop the role.
 * So both happen in one go, again if the role vanished.
 */
async function holdLegacyGrants(url: string, grants: readonly string[]): Promise<void> {
  await asSuperuser(url, `do $$ begin
    for attempt in 1..5 loop
      begin
        if not exists (select from pg_roles where rolname = 'stockroom_app') then create role stockroom_app nologin; end if;
        ${grants.map((grant) => `${grant};`).join('\n        ')}
        return;
      exception when undefined_object then
        null;
      end;
    end loop;
    raise exception 'stockroom_app was dropped under us five times';
  end $$`);
}

afterAll(async () => {
  for (const database of scratches) await database.drop();
  for (const role of made_roles.reverse()) await rawQuery(`drop role if exists ${role}`);
});

test('the default runtime role is named after the database and fits in 63 bytes', () => {
  expect(defaultRuntimeRole('stockroom')).toBe('stockroom_stockroom_app');
  expect(defaultRuntimeRole('Prod-EU')).toBe('prod_eu_stockroom_app');
  const long_a = defaultRuntimeRole(`${'x'.repeat(70)}a`);
  const long_b = defaultRuntimeRole(`${'x'.repeat(70)}b`);
  expect(Buffer.byteLength(long_a)).toBeLessThanOrEqual(63);
  expect(long_a).not.toBe(long_b);
});

test('migrations run as a non-superuser owner with CREATEROLE, and with a migration URL the runtime login is not the owner', async () => {
  const owner = await loginRole('rt_owner', 'createrole');
  const login = await loginRole('rt_login');
  const database = await scratch('stockroom_owned', owner);
  const [{ rolsuper }] = await rawQuery<{ rolsuper: boolean }>(`select rolsuper from pg_roles where rolname = $1`, [owner]);
  expect(rolsuper).toBe(false);
  const stockroom = await startStockroom({
    STOCKROOM_DATABASE_URL: database.urlAs(login, PASSWORD),
    STOCKROOM_MIGRATION_DATABASE_URL: database.urlAs(owner, PASSWORD),
  });
  try {
    const client = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
    const token = await stockroom.token({ tenant: 'owned' });
    await call(client, 'CreateItem', { productId: 'OWN-1', sku: 'SKU-OWN-1', name: 'Owned', reorderPoint: 0 }, token);
    await call(client, 'RecordInbound', { productId: 'OWN-1', quantity: 3, reference: 'PO-OWN' }, token);
    expect((await call(client, 'GetItem', { productId: 'OWN-1' }, token)).item.onHand).toBe('3');
    const [who] = await stockroom.app.database.orm.em.fork().getConnection().execute(
      `select session_user as login, current_user as runtime, (select tableowner from pg_tables where tablename = 'inventory_items') as owner,
              current_setting('server_version_num')::int / 10000 as major`,
    );
    expect(who).toMatchObject({ login, runtime: runtimeRoleFor(database.url), owner });
    expect(who.login).not.toBe(who.owner);
    process.stdout.write(`non-superuser CREATEROLE owner migrated PostgreSQL ${who.major}\n`);
  } finally {
    await stockroom.close();
  }
});

test("a member of deployment A's runtime role cannot read deployment B's database", async () => {
  const a = await scratch('stockroom_deploy_a');
  const b = await scratch('stockroom_deploy_b');
  await migrate(a.url);
  await migrate(b.url);
  const role_a = runtimeRoleFor(a.url);
  const role_b = runtimeRoleFor(b.url);
  expect(role_a).not.toBe(role_b);
  const member = await loginRole('rt_member_a');
  await rawQuery(`grant ${role_a} to ${member}`);
  await asSuperuser(b.url, `insert into inventory_items (tenant_id, product_id, sku, name) values ('acme', 'SECRET', 'SKU-SECRET', 'Production secret')`).catch(async () => {
    // The item's columns are db-truth's business; any row of B will do for this test.
    await asSuperuser(b.url, `insert into idempotency_keys (tenant_id, method, idempotency_key, request_hash, expires_at) values ('acme', 'm', 'SECRET', '\\x00', now() + interval '1 day')`);
  });
  // In A the member works as the service does.
  expect(await tryConnect(a.urlAs(member, PASSWORD), [`set role ${role_a}`, `select set_config('stockroom.tenant_id', 'acme', false)`, 'select count(*) from inventory_items'])).toBe('connected');
  // B refuses the session itself ...
  expect(await tryConnect(b.urlAs(member, PASSWORD))).toBe('42501');
  // ... and in A, B's role is out of reach ...
  expect(await tryConnect(a.urlAs(member, PASSWORD), [`set role ${role_b}`])).toBe('42501');
  // ... and A's role holds nothing in B, nor does the old cluster-wide role.
  const [privileges] = await asSuperuser<{ a_reads: boolean; legacy_grants: number }>(
    b.url,
    `select has_table_privilege($1, 'inventory_items', 'select') as a_reads,
            (select count(*)::int from pg_class c, aclexplode(c.relacl) x join pg_roles r on r.oid = x.grantee
             where c.relnamespace = 'public'::regnamespace and r.rolname = 'stockroom_app') as legacy_grants`,
    [role_a],
  );
  expect(privileges).toEqual({ a_reads: false, legacy_grants: 0 });
});

test('an existing deployment: grants of the cluster-wide stockroom_app move to the deployment role', async () => {
  const database = await scratch('stockroom_legacy');
  await migrate(database.url);
  const role = runtimeRoleFor(database.url);
  // What a database migrated before 0005b looks like: the old role holds the grants.
  await holdLegacyGrants(database.url, [
    `revoke select, update on inventory_items from ${role}`,
    'grant select, update on inventory_items to stockroom_app',
    'grant usage on sequence inventory_movements_id_seq to stockroom_app',
  ]);
  await migrate(database.url);
  const [after] = await asSuperuser<Record<string, boolean>>(
    database.url,
    `select has_table_privilege($1, 'inventory_items', 'select') as runtime_reads,
            has_table_privilege($1, 'inventory_items', 'update') as runtime_updates,
            has_table_privilege('stockroom_app', 'inventory_items', 'select') as legacy_reads,
            has_sequence_privilege('stockroom_app', 'inventory_movements_id_seq', 'usage') as legacy_sequence`,
    [role],
  );
  expect(after).toEqual({ runtime_reads: true, runtime_updates: true, legacy_reads: false, legacy_sequence: false });
});
