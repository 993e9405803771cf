/**
 * `npm run bench`: starts a fresh embedded PostgreSQL and the real server
 * (its own process), loads the data, drives each scenario from a separate
 * load process with grpc-js clients, measures the raw-db and grpc-echo
 * ceilings in the same run (grpc-echo on a bare connect-node server,
 * bench/echo-server.ts), checks the invariants after each scenario,
 * writes bench/results/<label>.{md,json,svg} and stops everything.
 * Exits 1 when an invariant fails.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { connectionConfig } from '../src/db/session.js';
import { freePort, startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded-postgres.js';
import { migrate } from '../src/db/migrate.js';
import { loadConfig } from '../src/server/config.js';
import { mintToken } from '../src/tools/token.js';
import { throughputChart } from './chart.js';
import { startOtlpSink } from './otlp-sink.js';
import { Context, TENANTS, log } from './context.js';
import { FifoPool } from './fifo-pool.js';
import { LoadProcess } from './load-process.js';
import { connect, type Clients } from './load/grpc-client.js';
import { parseOptions, type BenchOptions } from './options.js';
import { RESULTS_DIR, ROOT } from './paths.js';
import { buildRows, evaluateTargets, json, markdown, type Report } from './report.js';
import { PRODUCTS, SCENARIO_INFO, checkAvailability, echoOnly, fifoIssue, reserveHot, reserveSpread } from './scenarios.js';
import { seedProducts, SEED_SUBJECT } from './seed.js';
import { ServerProcess, startEchoServer } from './server-process.js';

const SUBJECT = 'bench';
/** Orders each product shipped before the benchmark: the order tables start with history. */
const PAST_ORDERS = 5;

async function main(options: BenchOptions): Promise<number> {
  const started = Date.now();
  const cleanup: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const step of cleanup.reverse()) await step().catch((error: unknown) => log(`cleanup: ${(error as Error).message}`));
    cleanup.length = 0;
  };
  const interrupted = () => void stopAll().finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    log('starting a fresh embedded PostgreSQL in .data/bench-postgres');
    const database: EmbeddedDatabase = await startEmbeddedPostgres({ data_dir: path.join(ROOT, '.data/bench-postgres'), port: 0, fresh: true });
    cleanup.push(() => database.stop());
    await migrate(database.url);
    const owner = new pg.Client(connectionConfig(database.url));
    await owner.connect();
    cleanup.push(() => owner.end());

    const jwt_secret = randomBytes(32).toString('hex');
    const config = loadConfig({ STOCKROOM_DATABASE_URL: database.url, STOCKROOM_JWT_SECRET: jwt_secret });
    const pool_max = options.pool_max ?? config.database_pool_max;
    const profile_dir = options.cpu_prof ? path.join(RESULTS_DIR, 'profiles') : undefined;
    if (profile_dir) fs.mkdirSync(profile_dir, { recursive: true });
    const port = await freePort();
    log(`starting the server (node dist/src/main.js) on port ${port}, pool ${pool_max}${profile_dir ? ', with --cpu-prof' : ''}`);
    const environment: Record<string, string> = { STOCKROOM_METRICS_ENABLED: String(options.metrics) };
    if (options.reserve_batch_max !== undefined) environment.STOCKROOM_RESERVE_BATCH_MAX = String(options.reserve_batch_max);
    if (options.tracing) {
      const sink = await startOtlpSink();
      cleanup.push(() => sink.close());
      Object.assign(environment, { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: 'always_on' });
      log(`tracing on: every span is exported to a local OTLP sink at ${sink.url}`);
    }
    log(`metrics ${options.metrics ? 'on' : 'off (--no-metrics)'}`);
    const server = await ServerProcess.start({ port, database_url: database.url, jwt_secret, pool_max: options.pool_max, cpu_prof_dir: profile_dir, environment });
    cleanup.push(() => server.stop());
    const echo_server = await startEchoServer(await freePort());
    cleanup.push(() => echo_server.stop());

    const tokens: Record<string, string> = {};
    for (const tenant of Object.values(TENANTS)) {
      tokens[tenant] = await mintToken(config.auth, { tenant, roles: ['admin'], subject: SUBJECT, ttl_seconds: 24 * 3600 });
    }
    const clients: Clients = connect(`127.0.0.1:${port}`);
    cleanup.push(async () => clients.close());

    log(`loading ${PRODUCTS} products with ${PAST_ORDERS} shipped orders each (bulk SQL as the owner)`);
    const product_ids = await seedProducts(owner, TENANTS.inventory, PRODUCTS, 1_000_000, PAST_ORDERS);
    await owner.query('analyze');

    const load = await LoadProcess.start({
      address: `127.0.0.1:${port}`,
      echo_address: echo_server.address,
      database_url: database.url,
      tokens,
      pool_max,
      lock_timeout_ms: config.lock_timeout_ms,
      statement_timeout_ms: config.statement_timeout_ms,
    });
    cleanup.push(() => load.stop());
    const postmaster_pid = Number(fs.readFileSync(path.join(database.data_dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const context = new Context(options, owner, server, load, clients, tokens, pool_max, postmaster_pid);
    context.notes.push(
      `Observability during this run: metrics ${options.metrics ? 'on (the default)' : 'off (--no-metrics)'}; tracing ${options.tracing ? 'on (--tracing: every span exported over OTLP/HTTP to a local sink)' : 'off (the default; --tracing measures it)'}; server log level info (the default).`,
      `Reserve coalescing: ${options.reserve_batch_max === undefined ? 'on (the default batch limit)' : options.reserve_batch_max === 1 ? 'off (--reserve-batch-max=1)' : `batches of at most ${options.reserve_batch_max}`}.`,
    );

    const wants = (name: string) => (options.scenarios as readonly string[]).includes(name);
    if (wants('grpc-echo')) await echoOnly(context);
    if (wants('reserve-spread')) await reserveSpread(context, product_ids);
    if (wants('reserve-hot')) await reserveHot(context);
    if (wants('check-availability')) await checkAvailability(context, product_ids);
    if (wants('fifo-issue-10')) {
      await fifoIssue(context, 'fifo-issue-10', new FifoPool(owner, TENANTS.fifo_10, { layers: 10, used_up: 0 }, 5, 5_000));
    }
    if (wants('fifo-issue-10k')) {
      await fifoIssue(context, 'fifo-issue-10k', new FifoPool(owner, TENANTS.fifo_10k, { layers: 10_000, used_up: 7_500 }, 5, 4));
    }

    log(`vacuumed the updated tables before each point: ${context.vacuum_seconds.toFixed(1)} s in all (not timed)`);
    const postgres_version = (await owner.query<{ server_version: string }>('show server_version')).rows[0].server_version;
    await stopAll();
    context.peak_rss_mb = Math.max(context.peak_rss_mb, 0);

    const scenarios = options.scenarios.map((name) => SCENARIO_INFO[name]);
    const rows = buildRows(scenarios, context.points);
    const report: Report = {
      started_at: new Date(started).toISOString(),
      duration_s: (Date.now() - started) / 1000,
      quick: options.quick,
      machine: {
        cpus: os.cpus().length,
        cpu_model: os.cpus()[0]?.model ?? 'unknown',
        memory_gb: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        postgres: postgres_version,
      },
      settings: {
        warmup_s: options.warmup_ms / 1000,
        measure_s: options.measure_ms / 1000,
        pool_max,
        concurrency: options.concurrency.join(','),
        seed_subject: SEED_SUBJECT,
      },
      scenarios,
      points: context.points,
      rows,
      targets: evaluateTargets(rows, context.checks, context.peak_rss_mb),
      checks: context.checks,
      server_peak_rss_mb: context.peak_rss_mb,
      notes: context.notes,
    };
    const text = markdown(report);
    process.stdout.write(`\n${text}`);
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    fs.writeFileSync(path.join(RESULTS_DIR, `${options.label}.md`), text);
    fs.writeFileSync(path.join(RESULTS_DIR, `${options.label}.json`), json(report));
    const svg = await throughputChart(rows, `Stockroom throughput, ${options.quick ? 'quick smoke' : 'full run'} ${report.started_at.slice(0, 10)}`);
    fs.writeFileSync(path.join(RESULTS_DIR, `${options.label}.svg`), svg);
    log(`wrote bench/results/${options.label}.{md,json,svg} in ${report.duration_s.toFixed(0)} s`);
    return context.checks.every((item) => item.ok) ? 0 : 1;
  } finally {
    await stopAll();
  }
}

let options: BenchOptions;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
if (options.quick && options.label === 'latest') options = { ...options, label: 'quick' };
main(options).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
