/**
 * Health follows the database: SERVING while it answers, NOT_SERVING once it
 * stops, so a load balancer takes the instance out instead of sending it
 * calls that can only fail. Uses a PostgreSQL of its own, since it stops it.
 */
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { call, startStockroom } from './support/harness.js';

test('health is SERVING while the database answers and NOT_SERVING when it stops', async () => {
  const database = await startEmbeddedPostgres({ data_dir: `.data/test-health-${process.pid}`, port: 0, fresh: true });
  let stopped = false;
  const stockroom = await startStockroom({ STOCKROOM_DATABASE_URL: database.url });
  try {
    const health = stockroom.grpcClient('grpc.health.v1.Health');
    await expect(call(health, 'check', { service: '' })).resolves.toEqual({ status: 'SERVING' });
    await database.stop();
    stopped = true;
    // A probe result answers for at most a second; poll past that.
    let status = 'SERVING';
    for (let attempt = 0; attempt < 40 && status === 'SERVING'; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = (await call(health, 'check', { service: '' })).status;
    }
    expect(status).toBe('NOT_SERVING');
  } finally {
    await stockroom.close();
    if (!stopped) await database.stop();
    const fs = await import('node:fs');
    fs.rmSync(database.data_dir, { recursive: true, force: true });
  }
});
