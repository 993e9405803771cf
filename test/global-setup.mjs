/**
 * Starts the PostgreSQL every test file uses and applies the migrations once.
 * With TEST_DATABASE_URL set, a fresh database is created on that server for
 * this run (and dropped afterwards); otherwise a fresh embedded PostgreSQL
 * is started. Plain .mjs because jest loads global setup without transforms;
 * it imports the compiled sources (`npm test` builds first).
 */
import pg from 'pg';
import { startEmbeddedPostgres } from '../dist/src/db/embedded-postgres.js';
import { migrate } from '../dist/src/db/migrate.js';

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
  await migrate(url);
  // Workers are started after global setup and inherit this.
  process.env.STOCKROOM_TEST_DATABASE_URL = url;
  process.stdout.write(`\ntest database: ${external ? 'external ' + url.replace(/:[^:@/]*@/, ':***@') : 'embedded ' + url.replace(/:[^:@/]*@/, ':***@')}\n`);
}
