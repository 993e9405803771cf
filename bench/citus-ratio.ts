/**
 * Issue 16: does a single-product Reserve on Citus cost within 1.5x of plain
 * PostgreSQL on the same coordinator? Measured from the repository, so that
 * anyone can repeat it on their own cluster.
 *
 * On the server of --coordinator it makes two fresh databases: a plain one
 * (no extension: every table on the coordinator) and a Citus one on every
 * node, made exactly as the test harness makes its own
 * (src/db/citus-cluster.ts). Both are migrated as a deployment would be,
 * seeded with one product, and served by the real server, each its own
 * process (pool 4). Then Reserve + CommitOutbound pairs, one call in flight
 * (bench/pair-latency.ts): warm-up pairs on each, then rounds of both,
 * alternating which goes first so that the shared machine's drift weighs on
 * both alike. Prints the figures, writes bench/results/citus-ratio.json,
 * and drops both databases and their runtime roles on every node, also
 * after a failure or an interrupt.
 *
 *   npm run build && node dist/bench/citus-ratio.js --coordinator=postgresql://postgres@127.0.0.1:9700/postgres
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { citusWorkers, createDatabase, databaseUrl, dropDatabase, makeCitusDatabase, nodeUrl, type CitusNode } from '../src/db/citus-cluster.js';
import { freePort } from '../src/db/embedded-postgres.js';
import { migrate } from '../src/db/migrate.js';
import { connectionConfig } from '../src/db/session.js';
import { loadConfig } from '../src/server/config.js';
import { mintToken } from '../src/tools/token.js';
import { ratioOf, ratioText, summarizeDatabase, type RatioReport } from './citus-ratio-report.js';
import { log } from './context.js';
import { parseRatioOptions, UsageError, type RatioOptions } from './citus-ratio-options.js';
import { connect } from './load/grpc-client.js';
import { runPairs, type PairSamples, type PairTarget } from './pair-latency.js';
import { RESULTS_DIR } from './paths.js';
import { seedProducts } from './seed.js';
import { ServerProcess } from './server-process.js';

const TENANT = 'citus-ratio';
const POOL_MAX = 4;
/** More units than any run ships (one per pair). */
const STOCK_UNITS = 1_000_000_000;
/** As in npm run bench: the order tables start with rows, so no plan is made for empty ones. */
const PAST_ORDERS = 5;
const RESULT_FILE = path.join(RESULTS_DIR, 'citus-ratio.json');

interface Coordinator {
  readonly url: string;
  readonly workers: readonly CitusNode[];
  readonly postgres_version: string;
  readonly citus_version: string;
}

interface Target extends PairTarget {
  readonly database: string;
}

/** Undone in reverse order at the end, whatever happened: servers before the databases they use. */
const cleanup: (() => Promise<unknown>)[] = [];
/**
 * SIGINT or SIGTERM: the run stops at its next step or pair and cleans up
 * on its own way out, so that nothing it makes meanwhile is left behind. A
 * second signal ends the process at once (the listeners are gone by then).
 */
const interrupt = new AbortController();

async function cleanUp(): Promise<void> {
  for (const step of cleanup.splice(0).reverse()) await step().catch((error: unknown) => log(`cleanup: ${(error as Error).message}`));
}

function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** The coordinator's workers and versions; refuses a database without Citus or without workers, before anything is made. */
async function describeCoordinator(url: string): Promise<Coordinator> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const workers = await citusWorkers(client);
    if (workers === undefined || workers.length === 0) {
      throw new UsageError(`${withoutPassword(url)} is not the database of a Citus coordinator with workers (it needs the citus extension and citus_add_node of each worker)`);
    }
    const { rows } = await client.query<{ postgres: string; citus: string }>(
      `select current_setting('server_version') as postgres, split_part(citus_version(), ' ', 2) as citus`,
    );
    return { url, workers, postgres_version: rows[0].postgres, citus_version: rows[0].citus };
  } finally {
    await client.end();
  }
}

/** One product with STOCK_UNITS on hand, written as the owner in bulk SQL (bench/seed.ts); its product id. */
async function seedProduct(url: string): Promise<string> {
  const owner = new pg.Client(connectionConfig(url));
  await owner.connect();
  try {
    const [product_id] = await seedProducts(owner, TENANT, 1, STOCK_UNITS, PAST_ORDERS);
    await owner.query('analyze');
    return product_id;
  } finally {
    await owner.end();
  }
}

/** A migrated, seeded database on the coordinator (distributed when `name` is citus) and its running server. */
async function prepareTarget(name: 'plain' | 'citus', database: string, coordinator: Coordinator, jwt_secret: string): Promise<Target> {
  interrupt.signal.throwIfAborted();
  // Registered before the database exists, so that a failure halfway drops whatever was made.
  cleanup.push(() => dropDatabase(coordinator.url, database, coordinator.workers));
  const url = databaseUrl(coordinator.url, database);
  await createDatabase(coordinator.url, database);
  if (name === 'citus') await makeCitusDatabase(url, coordinator.workers, coordinator.url);
  log(`${database}: migrating and seeding`);
  await migrate(url);
  const product_id = await seedProduct(url);
  interrupt.signal.throwIfAborted();
  const port = await freePort();
  const server = await ServerProcess.start({ port, database_url: url, jwt_secret, pool_max: POOL_MAX, cpu_prof_dir: undefined });
  cleanup.push(() => server.stop());
  const clients = connect(`127.0.0.1:${port}`);
  cleanup.push(async () => clients.close());
  const auth = loadConfig({ STOCKROOM_DATABASE_URL: url, STOCKROOM_JWT_SECRET: jwt_secret }).auth;
  const token = await mintToken(auth, { tenant: TENANT, roles: ['admin'], subject: 'citus-ratio', ttl_seconds: 24 * 3600 });
  log(`${database}: server ${server.pid} on port ${port}`);
  return { name, database, server, clients, token, product_id };
}

/** Warm-up pairs on each target, then the rounds; the samples of each round per target name. */
async function measure(targets: readonly Target[], options: RatioOptions): Promise<Record<string, PairSamples[]>> {
  for (const target of targets) {
    log(`${target.name}: ${options.warmup_pairs} warm-up pairs`);
    await runPairs(target, options.warmup_pairs, 'warmup', interrupt.signal);
  }
  const samples: Record<string, PairSamples[]> = Object.fromEntries(targets.map((target) => [target.name, []]));
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) samples[target.name].push(await runPairs(target, options.calls_per_round, `round-${round}`, interrupt.signal));
    log(`round ${round + 1} of ${options.rounds}: ${order.map((target) => target.name).join(' then ')}`);
  }
  return samples;
}

async function run(options: RatioOptions): Promise<RatioReport> {
  const started_at = new Date().toISOString();
  const load_average_start = os.loadavg();
  const coordinator = await describeCoordinator(options.coordinator_url);
  const suffix = `${Date.now()}_${process.pid}`;
  const jwt_secret = randomBytes(32).toString('hex');
  const plain = await prepareTarget('plain', `ratio_plain_${suffix}`, coordinator, jwt_secret);
  const citus = await prepareTarget('citus', `ratio_citus_${suffix}`, coordinator, jwt_secret);
  const samples = await measure([plain, citus], options);
  const plain_summary = summarizeDatabase(plain.database, samples.plain);
  const citus_summary = summarizeDatabase(citus.database, samples.citus);
  return {
    started_at,
    finished_at: new Date().toISOString(),
    settings: { rounds: options.rounds, calls_per_round: options.calls_per_round, warmup_pairs: options.warmup_pairs, pool_max: POOL_MAX },
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? 'unknown', node: process.version, postgres: coordinator.postgres_version, citus: coordinator.citus_version },
    coordinator: withoutPassword(coordinator.url),
    workers: coordinator.workers.map((worker) => new URL(nodeUrl(coordinator.url, worker)).host),
    load_average_start,
    load_average_end: os.loadavg(),
    plain: plain_summary,
    citus: citus_summary,
    ratio_citus_to_plain: ratioOf(plain_summary, citus_summary),
  };
}

let options: RatioOptions;
try {
  options = parseRatioOptions(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => interrupt.abort(new Error(`interrupted by ${signal}`)));
let exit_code = 0;
try {
  const report = await run(options);
  process.stdout.write(ratioText(report));
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(RESULT_FILE, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${path.relative(process.cwd(), RESULT_FILE)}`);
} catch (error) {
  exit_code = error instanceof UsageError ? 2 : interrupt.signal.aborted ? 130 : 1;
  // A usage error or an interrupt says all there is to say; anything else keeps its stack.
  const expected = error instanceof UsageError || interrupt.signal.aborted;
  const detail = expected ? (error as Error).message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`citus-ratio failed: ${detail}\n`);
} finally {
  if (cleanup.length > 0) log('stopping the servers, dropping both databases and their runtime roles on every node');
  await cleanUp();
}
process.exit(exit_code);
