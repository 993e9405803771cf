/**
 * Starts the PostgreSQL every test file uses and applies the migrations once.
 * With TEST_DATABASE_URL set, a fresh database is created on that server for
 * this run (and dropped afterwards); otherwise a fresh embedded PostgreSQL
 * is started. With TEST_DATABASE_NON_ISO=1 the database's defaults are set
 * to what a Brazilian DBA might choose (DMY dates in SQL style, São Paulo
 * time, SQL-standard intervals, escaped bytea; see NON_ISO_DEFAULTS),
 * so the run proves that every connection pins its own session settings.
 * Plain .mjs because jest loads global setup without transforms;
 * it imports the compiled sources (`npm test` builds first).
 * When TEST_DATABASE_URL is a Citus coordinator (TEST_DATABASE_CITUS=1, or
 * detected: its database has the citus extension with active workers), the
 * run's database is made on every node and distributed (README, Running on
 * Citus); STOCKROOM_TEST_CITUS_WORKERS then lists the workers' URLs of it.
 */
import pg from 'pg';
import { startEmbeddedPostgres } from '../dist/src/db/embedded-postgres.js';
import { migrate } from '../dist/src/db/migrate.js';
import { NON_ISO_DEFAULTS } from '../dist/src/db/session.js';

export default async function globalSetup() {
  let url;
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    const database = `stockroom_test_${Date.now()}_${process.pid}`;
    const admin = new pg.Client({ connectionString: external });
    await admin.connect();
    await admin.query(`create database ${database}`);
    const workers = await citusWorkers(admin);
    await admin.end();
    const parsed = new URL(external);
    parsed.pathname = `/${database}`;
    url = parsed.toString();
    globalThis.__STOCKROOM_TEST_DROP__ = { external, database, workers: workers?.map((worker) => workerUrl(external, worker)) };
    if (workers !== undefined) await makeCitusDatabase(url, workers);
  } else {
    // One folder per run, so two runs in one checkout do not wipe each other's database.
    const embedded = await startEmbeddedPostgres({ data_dir: `.data/test-postgres-${process.pid}`, port: 0, fresh: true });
    url = embedded.url;
    globalThis.__STOCKROOM_TEST_EMBEDDED__ = embedded;
  }
  if (process.env.TEST_DATABASE_NON_ISO === '1') await makeNonIso(url);
  await migrate(url);
  // Workers are started after global setup and inherit this.
  process.env.STOCKROOM_TEST_DATABASE_URL = url;
  process.stdout.write(`\ntest database: ${external ? 'external ' + url.replace(/:[^:@/]*@/, ':***@') : 'embedded ' + url.replace(/:[^:@/]*@/, ':***@')}\n`);
}

async function makeNonIso(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query('select current_database() as name');
    for (const setting of NON_ISO_DEFAULTS) await client.query(`alter database ${pg.escapeIdentifier(rows[0].name)} set ${setting}`);
  } finally {
    await client.end();
  }
  process.stdout.write(`\ntest database defaults: ${NON_ISO_DEFAULTS.join(', ')}\n`);
}

/**
 * The Citus workers of the server at TEST_DATABASE_URL (a coordinator), when
 * TEST_DATABASE_CITUS=1 or the server's own database has the citus extension
 * with active workers; undefined for a plain PostgreSQL.
 */
async function citusWorkers(admin) {
  const wanted = process.env.TEST_DATABASE_CITUS;
  if (wanted === '0') return undefined;
  const { rows } = await admin.query(`select exists (select from pg_extension where extname = 'citus') as citus`);
  if (!rows[0].citus) {
    if (wanted === '1') throw new Error('TEST_DATABASE_CITUS=1, but the database of TEST_DATABASE_URL has no citus extension (create it there and add the workers)');
    return undefined;
  }
  const workers = await admin.query(`select node_name as host, node_port as port from citus_get_active_worker_nodes() order by 1, 2`);
  if (workers.rows.length === 0 && wanted !== '1') return undefined;
  return workers.rows;
}

function workerUrl(coordinator, worker) {
  const parsed = new URL(coordinator);
  parsed.hostname = worker.host;
  parsed.port = String(worker.port);
  return parsed.toString();
}

/**
 * A Citus database is one database of that name on every node, each with the
 * extension, and the coordinator's knows its workers (Citus keeps its node
 * list per database). Migration 0009 then distributes every table.
 */
async function makeCitusDatabase(url, workers) {
  const database = new URL(url).pathname.slice(1);
  const worker_urls = [];
  for (const worker of workers) {
    const admin = new pg.Client({ connectionString: workerUrl(process.env.TEST_DATABASE_URL, worker) });
    await admin.connect();
    await admin.query(`create database ${database}`);
    await admin.end();
    const parsed = new URL(workerUrl(url, worker));
    worker_urls.push(parsed.toString());
    await runOn(parsed.toString(), ['create extension citus']);
  }
  const coordinator = new URL(url);
  await runOn(url, [
    'create extension if not exists citus',
    `select citus_set_coordinator_host('${coordinator.hostname}', ${Number(coordinator.port || 5432)})`,
    ...workers.map((worker) => `select citus_add_node('${worker.host}', ${Number(worker.port)})`),
  ]);
  process.env.STOCKROOM_TEST_CITUS_WORKERS = JSON.stringify(worker_urls);
  process.stdout.write(`\ntest database on Citus: coordinator and ${workers.length} workers (${workers.map((worker) => `${worker.host}:${worker.port}`).join(', ')})\n`);
}

async function runOn(url, statements) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}
