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
    await admin.end();
    const parsed = new URL(external);
    parsed.pathname = `/${database}`;
    url = parsed.toString();
    globalThis.__STOCKROOM_TEST_DROP__ = { external, database };
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
