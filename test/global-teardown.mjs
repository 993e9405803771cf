import fs from 'node:fs';
import pg from 'pg';
import { defaultRuntimeRole } from '../dist/src/db/runtime-role.js';

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
    for (const worker of drop.workers ?? []) {
      const parsed = new URL(worker);
      parsed.pathname = '/postgres';
      const client = new pg.Client({ connectionString: parsed.toString() });
      await client.connect();
      await client.query(`drop database if exists ${drop.database} with (force)`);
      await client.end();
    }
    // Roles are cluster-wide: the run's runtime role goes with its database.
    await admin.query(`drop role if exists ${pg.escapeIdentifier(defaultRuntimeRole(drop.database))}`);
    await admin.end();
  }
}
