import pg from 'pg';

export default async function globalTeardown() {
  await globalThis.__STOCKROOM_TEST_EMBEDDED__?.stop();
  const drop = globalThis.__STOCKROOM_TEST_DROP__;
  if (drop) {
    const admin = new pg.Client({ connectionString: drop.external });
    await admin.connect();
    await admin.query(`drop database if exists ${drop.database} with (force)`);
    await admin.end();
  }
}
