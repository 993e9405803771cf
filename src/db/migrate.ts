/**
 * Applies pending migrations as the table owner. Several processes may start
 * at once (replicas, parallel test workers), so a cluster-wide advisory lock
 * lets exactly one of them migrate while the others wait and then find
 * nothing pending.
 */
import pg from 'pg';
import { openOrm } from './orm.js';
import { connectionConfig } from './session.js';

// Any fixed 64-bit number; it only has to be ours.
const MIGRATION_LOCK_KEY = 7_150_402_511n;

export async function migrate(url: string): Promise<string[]> {
  const lock_client = new pg.Client(connectionConfig(url));
  await lock_client.connect();
  try {
    await lock_client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    const orm = await openOrm({ url, pool_max: 1, as_owner: true });
    try {
      const applied = await orm.migrator.up();
      return applied.map((migration) => migration.name);
    } finally {
      await orm.close(true);
    }
  } finally {
    await lock_client.end(); // ending the session releases the lock
  }
}
