import fs from 'node:fs';
import { dropDatabase } from '../dist/src/db/citus-cluster.js';

export default async function globalTeardown() {
  const embedded = globalThis.__STOCKROOM_TEST_EMBEDDED__;
  if (embedded) {
    await embedded.stop();
    fs.rmSync(embedded.data_dir, { recursive: true, force: true });
  }
  const drop = globalThis.__STOCKROOM_TEST_DROP__;
  // On every node it was made on, with the run's runtime role, which is cluster-wide.
  if (drop) await dropDatabase(drop.external, drop.database, drop.workers);
}
