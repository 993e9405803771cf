import fs from 'node:fs';
import pg from 'pg';

export default async function globalTeardown() {
  const embedded = globalThis.__STOCKROOM_TEST_EMBEDDED__;
  if (embedded) {
    await embedded.stop();
    fs.rmSync(embedded.data_dir, { recursive: true, force: true });
  }
  const drop = globalThis.__STOCKROOM_TEST_DROP__;
  if (drop) {
    const admin = new pg.Client({ connectionString: drop.external });
    await admin.connect();
    await admin.query(`drop database if exists ${drop.database} with (force)`);
    await admin.end();
  }
}
