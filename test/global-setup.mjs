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
import { citusWorkers, databaseUrl, makeCitusDatabase } from '../dist/src/db/citus-cluster.js';
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
    const workers = await testCitusWorkers(admin);
    await admin.end();
    url = databaseUrl(external, database);
    globalThis.__STOCKROOM_TEST_DROP__ = { external, database, workers: workers ?? [] };
    if (workers !== undefined) {
      const worker_urls = await makeCitusDatabase(url, workers, external);
      process.env.STOCKROOM_TEST_CITUS_WORKERS = JSON.stringify(worker_urls);
      process.stdout.write(`\ntest database on Citus: coordinator and ${workers.length} workers (${workers.map((worker) => `${worker.host}:${worker.port}`).join(', ')})\n`);
    }
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
async function testCitusWorkers(admin) {
  const wanted = process.env.TEST_DATABASE_CITUS;
  if (wanted === '0') return undefined;
  const workers = await citusWorkers(admin);
  if (workers === undefined) {
    if (wanted === '1') throw new Error('TEST_DATABASE_CITUS=1, but the database of TEST_DATABASE_URL has no citus extension (create it there and add the workers)');
    return undefined;
  }
  if (workers.length === 0 && wanted !== '1') return undefined;
  return workers;
}
