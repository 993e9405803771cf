/**
 * Would more server processes help on this machine (issue 15, STOCKROOM_WORKERS)?
 * Starts a fresh embedded PostgreSQL, seeds products, and drives the same
 * closed loop (64 in flight, 8 grpc-js channels, so several connections
 * exist to spread) against 1 and then 2 server processes on that database,
 * alternating, for reserve-hot (one product) and reserve-spread (Reserve of
 * a random product of 10,000). Two processes stand in for node:cluster with
 * two workers (which would add the primary's hand-over of connections).
 *
 *   npm run build && node dist/bench/processes-probe.js
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { freePort, startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { migrate } from '../src/db/migrate.js';
import { connectionConfig } from '../src/db/session.js';
import { loadConfig } from '../src/server/config.js';
import { mintToken } from '../src/tools/token.js';
import { closedLoop } from './load/closed-loop.js';
import { bearer, connect, grpcCode, unary, type Clients } from './load/grpc-client.js';
import { ROOT } from './paths.js';
import { seedProducts } from './seed.js';
import { ServerProcess } from './server-process.js';

const TENANT = 'probe';
const IN_FLIGHT = 64;
const CHANNELS = 8;

async function measure(servers: readonly ServerProcess[], addresses: readonly string[], token: string, workload: 'hot' | 'spread', products: readonly string[], tag: string) {
  const channels: Clients[] = Array.from({ length: CHANNELS }, (_, index) => connect(addresses[index % addresses.length]));
  const metadata = bearer(token);
  let sequence = 0;
  const cpu_before = servers.reduce((sum, server) => sum + server.cpuMs(), 0);
  try {
    const result = await closedLoop({
      concurrency: IN_FLIGHT,
      warmup_ms: 2_000,
      measure_ms: 8_000,
      classify: grpcCode,
      next: () => {
        const index = sequence++;
        const reserve = unary(channels[index % CHANNELS].inventory, 'Reserve');
        const product = workload === 'hot' ? products[0] : products[Math.floor(Math.random() * products.length)];
        return async () => void (await reserve({ items: [{ productId: product, quantity: '1' }], reference: `${tag}-${index}` }, metadata));
      },
    });
    const cpu_ms = servers.reduce((sum, server) => sum + server.cpuMs(), 0) - cpu_before;
    const sorted = result.latencies_ms;
    const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)];
    return `${(result.ops / result.seconds).toFixed(0)} ops/s, p99 ${p99.toFixed(1)} ms, server CPU ${(cpu_ms / result.started).toFixed(2)} ms/op, errors ${JSON.stringify(result.errors)}`;
  } finally {
    for (const channel of channels) channel.close();
  }
}

const database = await startEmbeddedPostgres({ data_dir: path.join(ROOT, '.data/probe-postgres'), port: 0, fresh: true });
const servers: ServerProcess[] = [];
try {
  await migrate(database.url);
  const owner = new pg.Client(connectionConfig(database.url));
  await owner.connect();
  const products = await seedProducts(owner, TENANT, 10_000, 1_000_000, 0);
  await owner.end();
  const jwt_secret = randomBytes(32).toString('hex');
  const token = await mintToken(loadConfig({ STOCKROOM_DATABASE_URL: database.url, STOCKROOM_JWT_SECRET: jwt_secret }).auth, { tenant: TENANT, roles: ['admin'], subject: 'probe' });
  const ports = [await freePort(), await freePort()];
  for (const port of ports) {
    // Half the pool each, so both setups have as many connections.
    servers.push(await ServerProcess.start({ port, database_url: database.url, jwt_secret, pool_max: 4, cpu_prof_dir: undefined }));
  }
  const single_port = await freePort();
  const single = await ServerProcess.start({ port: single_port, database_url: database.url, jwt_secret, pool_max: 8, cpu_prof_dir: undefined });
  servers.push(single);
  for (const round of [1, 2]) {
    for (const workload of ['hot', 'spread'] as const) {
      const one = await measure([single], [`127.0.0.1:${single_port}`], token, workload, products, `one-${workload}-${round}`);
      process.stdout.write(`round ${round} ${workload}  1 process:  ${one}\n`);
      const two = await measure(servers.slice(0, 2), ports.map((port) => `127.0.0.1:${port}`), token, workload, products, `two-${workload}-${round}`);
      process.stdout.write(`round ${round} ${workload}  2 processes: ${two}\n`);
    }
  }
} finally {
  for (const server of servers) await server.stop();
  await database.stop();
}
