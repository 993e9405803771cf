/**
 * One runtime role per deployment (issue 10, item 4): the role belongs to
 * one database, membership in it opens nothing in another, migrations run
 * as a non-superuser owner with CREATEROLE (PostgreSQL 15 on the machine's
 * server, 17 embedded), and with a migration URL the service's login is not
 * the owner.
 */
import pg from 'pg';
import { createDatabase, databaseUrl, dropDatabase, makeCitusDatabase } from '../src/db/citus-cluster.js';
import { migrate } from '../src/db/migrate.js';
import { defaultRuntimeRole, runtimeRoleFor } from '../src/db/runtime-role.js';
import { connectionConfig } from '../src/db/session.js';
import { call, citusWorkerUrls, createScratchDatabase, rawQuery, startStockroom, testDatabaseUrl, testRuntimeRole, type ScratchDatabase } from './support/harness.js';

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

/** How many privileges on the objects of schema public the cluster-wide legacy role holds, as column legacy_grants. */
const LEGACY_GRANTS = `(select count(*)::int from pg_class c, aclexplode(c.relacl) x join pg_roles r on r.oid = x.grantee
  where c.relnamespace = 'public'::regnamespace and r.rolname = 'stockroom_app') as legacy_grants`;

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

/**
 * Drops `stockroom_app` in an open transaction of `client`, as another
 * database's 0005b does: the role's lock is held until `client` commits.
 * Makes the role first (committed, unused) if missing; again if a fresh
 * database in another test file dropped it in the meantime.
 */
async function dropLegacyRoleUncommitted(client: pg.Client): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await rawQuery(`do $$ begin create role stockroom_app nologin; exception when duplicate_object then null; end $$`);
    await client.query('begin');
    try {
      await client.query('drop role stockroom_app');
      return;
    } catch (error) {
      await client.query('rollback');
      if (attempt === 5) throw error;
    }
  }
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
            ${LEGACY_GRANTS}`,
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

/**
 * Resolves when a backend connected to `database` waits for the lock on the
 * role named `role` (the lock DROP ROLE holds until its transaction ends), or
 * when `settled` has resolved; fails after `timeout_ms`.
 */
async function untilWaitingOnRole(database: string, role: string, settled: Promise<unknown>, timeout_ms: number): Promise<void> {
  let done = false;
  void settled.finally(() => { done = true; });
  const deadline = Date.now() + timeout_ms;
  while (!done) {
    const [{ waiting }] = await rawQuery<{ waiting: boolean }>(
      `select exists (select from pg_locks l join pg_stat_activity a on a.pid = l.pid join pg_roles r on r.oid = l.objid
                      where not l.granted and l.locktype = 'object' and l.classid = 'pg_authid'::regclass
                        and r.rolname = $2 and a.datname = $1) as waiting`,
      [database, role],
    );
    if (waiting) return;
    if (Date.now() > deadline) throw new Error(`no backend of ${database} waited on role ${role} within ${timeout_ms} ms, nor did it finish`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("a fresh database migrates while another database's 0005b drops the legacy stockroom_app under it", async () => {
  // The race of two deployments (or two jest workers) migrating at once on
  // one cluster, made deterministic: the legacy role exists, unused (as an
  // upgraded deployment, or the test above, leaves it), and another
  // database's 0005b has dropped it in its migration transaction, which
  // holds the role's lock until that migration commits.
  const other = new pg.Client(connectionConfig(testDatabaseUrl()));
  await other.connect();
  try {
    await dropLegacyRoleUncommitted(other);
    const database = await scratch('stockroom_race');
    const migration = migrate(database.url).then(() => 'migrated', (error: Error) => error.message);
    // This database's migration, as far as it gets while the other's drop is
    // uncommitted: either done, or waiting for the role's lock.
    await untilWaitingOnRole(database.name, 'stockroom_app', migration, 30_000);
    await other.query('commit');
    expect(await migration).toBe('migrated');
    const [grants] = await asSuperuser<{ legacy: number; runtime_idempotency: boolean; runtime_schema: boolean; runtime_sequence: boolean }>(
      database.url,
      `select (select count(*)::int from pg_class c, aclexplode(c.relacl) x join pg_roles r on r.oid = x.grantee
               where c.relnamespace = 'public'::regnamespace and r.rolname = 'stockroom_app') as legacy,
              has_table_privilege($1, 'idempotency_keys', 'select, insert, update, delete') as runtime_idempotency,
              has_schema_privilege($1, 'public', 'usage') as runtime_schema,
              has_sequence_privilege($1, 'inventory_movements_id_seq', 'usage') as runtime_sequence`,
      [runtimeRoleFor(database.url)],
    );
    expect(grants).toEqual({ legacy: 0, runtime_idempotency: true, runtime_schema: true, runtime_sequence: true });
  } finally {
    await other.query('rollback').catch(() => {});
    await other.end();
  }
});

test("a non-superuser owner migrates a fresh database while an un-upgraded deployment still holds stockroom_app", async () => {
  // The un-upgraded deployment: its grant to the legacy role keeps the role
  // alive (no 0005b elsewhere can drop it) and owned by someone else. On
  // PostgreSQL 16+ the old 0001 failed here: joining the role needs ADMIN
  // OPTION on it, which this owner lacks.
  const old = await scratch('stockroom_unupgraded');
  await holdLegacyGrants(old.url, ['grant usage on schema public to stockroom_app']);
  const owner = await loginRole('rt_owner_fresh', 'createrole');
  const database = await scratch('stockroom_fresh_owned', owner);
  expect(await migrate(database.urlAs(owner, PASSWORD))).toContain('0005b_runtime_role');
  const [state] = await asSuperuser<{ owner_in_legacy: boolean; legacy_grants: number }>(
    database.url,
    `select pg_has_role($1, 'stockroom_app', 'member') as owner_in_legacy,
            ${LEGACY_GRANTS}`,
    [owner],
  );
  expect(state).toEqual({ owner_in_legacy: false, legacy_grants: 0 });
});

/** The runtime role as each node of the run's database sees it: LOGIN, and its settings in that database. */
async function runtimeRoleOnNodes(urls: readonly string[]): Promise<{ login: boolean; settings: string[] }[]> {
  const read = `select r.rolcanlogin as login,
                       coalesce((select s.setconfig from pg_db_role_setting s
                                 where s.setrole = r.oid and s.setdatabase = (select oid from pg_database where datname = current_database())), '{}') as settings
                from pg_roles r where r.rolname = $1`;
  const states = [];
  for (const url of urls) states.push((await asSuperuser<{ login: boolean; settings: string[] }>(url, read, [testRuntimeRole()]))[0]);
  return states;
}

(citusWorkerUrls().length === 0 ? test : test.skip)('on plain PostgreSQL the runtime role stays NOLOGIN, with no setting of its own', async () => {
  expect(await runtimeRoleOnNodes([testDatabaseUrl()])).toEqual([{ login: false, settings: [] }]);
});

(citusWorkerUrls().length > 0 ? test : test.skip)(
  'on Citus the runtime role logs in on every worker, plans per call there, and keeps both when another database adds the nodes',
  async () => {
    const workers = citusWorkerUrls();
    const expected = workers.map(() => ({ login: true, settings: ['plan_cache_mode=force_custom_plan'] }));
    expect(await runtimeRoleOnNodes(workers)).toEqual(expected);
    // Another Citus database on the same cluster registering its nodes: node
    // activation copies every role's attributes from the coordinator, which
    // took a LOGIN granted on the workers alone away.
    const probe = `stockroom_probe_${Math.random().toString(36).slice(2, 10)}`;
    const nodes = workers.map((url) => ({ host: new URL(url).hostname, port: Number(new URL(url).port || 5432) }));
    const server = databaseUrl(testDatabaseUrl(), 'postgres');
    try {
      await createDatabase(server, probe);
      await makeCitusDatabase(databaseUrl(server, probe), nodes, server);
      expect(await runtimeRoleOnNodes(workers)).toEqual(expected);
    } finally {
      await dropDatabase(server, probe, nodes);
    }
  },
);
