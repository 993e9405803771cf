/**
 * Shutdown as an operator causes it: the built server as its own process on
 * its embedded PostgreSQL, stopped with SIGTERM under load, and `npm start`
 * stopped with SIGTERM to npm or with Ctrl-C (SIGINT to the whole process
 * group). Calls in flight must finish OK, the embedded database must stop
 * after them, and the exit code must be 0, with an HTTP/1.1 keep-alive
 * client connected too.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { freePort } from '../src/db/embedded-postgres.js';
import { loadConfig } from '../src/server/config.js';
import { mintToken } from '../src/tools/token.js';
import { call, serviceConstructor, TEST_JWT_SECRET } from './support/harness.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const DATA_DIR = path.join(ROOT, `.data/test-shutdown-${process.pid}`);
const NODE = path.join(ROOT, 'node_modules/.bin/node');

afterAll(() => fs.rmSync(DATA_DIR, { recursive: true, force: true }));

interface Spawned {
  readonly child: ChildProcess;
  readonly port: number;
  readonly pg_port: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

async function spawnServer(command: string, args: string[], options: { detached?: boolean } = {}): Promise<Spawned> {
  const port = await freePort();
  const pg_port = await freePort();
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: options.detached ?? false,
    env: {
      ...process.env,
      STOCKROOM_PORT: String(port),
      STOCKROOM_EMBEDDED_DATA_DIR: DATA_DIR,
      STOCKROOM_EMBEDDED_PG_PORT: String(pg_port),
      STOCKROOM_JWT_SECRET: TEST_JWT_SECRET,
      STOCKROOM_LOG_LEVEL: 'info',
      STOCKROOM_SHUTDOWN_GRACE_MS: '10000',
      STOCKROOM_LOCK_TIMEOUT_MS: '10000',
      // Each Reserve its own transaction, so each waits on the held row in PostgreSQL (coalesced, one would and the rest queue in the process).
      STOCKROOM_RESERVE_BATCH_MAX: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" within 60 s:\n${output}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"msg":"listening"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', () => reject(new Error(`exited before listening:\n${output}`)));
  });
  return { child, port, pg_port, exited };
}

function postgresAnswers(pg_port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(pg_port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

interface Load {
  readonly in_flight: Promise<unknown>[];
  /** Lets the calls go on; returns when. */
  release(): Promise<number>;
  close(): void;
}

/**
 * 24 Reserves in flight: they wait on an item row locked here, so they are
 * still running when the signal comes, and an HTTP/1.1 client that keeps its
 * connection open between requests.
 */
async function underLoad(server: Spawned): Promise<Load> {
  const auth = loadConfig({ STOCKROOM_JWT_SECRET: TEST_JWT_SECRET, STOCKROOM_DATABASE_URL: 'postgresql://x@127.0.0.1/x' }).auth;
  const token = await mintToken(auth, { tenant: 'shutdown', roles: ['admin'], subject: 'operator' });
  const inventory = new (serviceConstructor('stockroom.inventory.v1.InventoryService'))(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  await call(inventory, 'createItem', { productId: 'DRAIN', sku: 'D', name: 'Drain' }, token).catch(() => undefined);
  await call(inventory, 'recordInbound', { productId: 'DRAIN', quantity: '1000', reference: 'PO' }, token);

  const holder = new pg.Client({ connectionString: `postgresql://postgres:stockroom-embedded@127.0.0.1:${server.pg_port}/postgres` });
  await holder.connect();
  holder.on('error', () => {});
  await holder.query('begin');
  await holder.query(`select 1 from inventory_items where tenant_id = 'shutdown' and product_id = 'DRAIN' for update`);
  const in_flight = Array.from({ length: 24 }, (_, n) =>
    call(inventory, 'reserve', { items: [{ productId: 'DRAIN', quantity: '1' }], reference: `DRAIN-${n}` }, token),
  );
  const waiting = async () => (await holder.query(`select pg_stat_clear_snapshot(); select 1 from pg_stat_activity where wait_event_type = 'Lock'`) as unknown as pg.QueryResult[])[1].rowCount ?? 0;
  for (let waited_ms = 0; (await waiting()) < 8; waited_ms += 25) {
    if (waited_ms > 10_000) throw new Error('the calls never reached the lock');
    await sleep(25);
  }
  const agent = new http.Agent({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    const request = http.request(`http://127.0.0.1:${server.port}/grpc.health.v1.Health/Check`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (response) => {
      response.resume();
      response.on('end', resolve);
    });
    request.on('error', reject);
    request.end('{}');
  });
  return {
    in_flight,
    release: async () => {
      const released_at = Date.now();
      await holder.query('rollback');
      await holder.end();
      return released_at;
    },
    close: () => {
      agent.destroy();
      inventory.close();
    },
  };
}

/** Signal, check the database still serves the drain, release the calls: all OK, exit 0, nothing left. */
async function expectDrained(name: string, server: Spawned, signal: () => void): Promise<void> {
  const load = await underLoad(server);
  signal();
  await sleep(500);
  // Still draining: the embedded database must still be there for the calls.
  expect(await postgresAnswers(server.pg_port)).toBe(true);
  const released_at = await load.release();
  const results = await Promise.allSettled(load.in_flight);
  expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
  const exit = await server.exited;
  expect(exit).toMatchObject({ code: 0, signal: null });
  process.stdout.write(`${name} drain: ${load.in_flight.length} calls OK, exit ${exit.at - released_at} ms after the lock was released\n`);
  expect(exit.at - released_at).toBeLessThan(3_000);
  expect(await postgresAnswers(server.pg_port)).toBe(false);
  expect(fs.existsSync(path.join(DATA_DIR, 'postmaster.pid'))).toBe(false);
  load.close();
}

test('SIGTERM under load: every call in flight finishes OK, then the embedded database stops, exit 0, a keep-alive client does not hold it up', async () => {
  const server = await spawnServer(NODE, ['dist/src/main.js']);
  await expectDrained('SIGTERM', server, () => server.child.kill('SIGTERM'));
});

test('Ctrl-C on `npm start` under load (SIGINT to the whole process group, as a terminal sends it): PostgreSQL, in its own session, does not get it; every call in flight finishes OK, exit 0', async () => {
  const server = await spawnServer('npm', ['start', '--silent'], { detached: true });
  await expectDrained('Ctrl-C', server, () => process.kill(-server.child.pid!, 'SIGINT'));
});

test('SIGKILL of the server: the watchdog stops its embedded PostgreSQL within seconds', async () => {
  const server = await spawnServer(NODE, ['dist/src/main.js']);
  expect(await postgresAnswers(server.pg_port)).toBe(true);
  const killed_at = Date.now();
  server.child.kill('SIGKILL');
  await server.exited;
  for (let waited_ms = 0; (await postgresAnswers(server.pg_port)) || fs.existsSync(path.join(DATA_DIR, 'postmaster.pid')); waited_ms += 50) {
    if (waited_ms > 10_000) throw new Error('PostgreSQL still runs 10 s after its server was killed');
    await sleep(50);
  }
  process.stdout.write(`SIGKILL: PostgreSQL gone ${Date.now() - killed_at} ms after the server was killed\n`);
});

async function expectCleanStop(server: Spawned, stop: () => void): Promise<void> {
  const stopped_at = Date.now();
  stop();
  const exit = await server.exited;
  expect(exit).toMatchObject({ code: 0, signal: null });
  expect(exit.at - stopped_at).toBeLessThan(10_000);
  // Nothing left behind: neither the server nor PostgreSQL.
  await sleep(200);
  expect(await postgresAnswers(server.pg_port)).toBe(false);
  expect(await postgresAnswers(server.port)).toBe(false);
}

test('SIGTERM to `npm start` (npm as parent) stops the server and PostgreSQL, exit 0', async () => {
  const server = await spawnServer('npm', ['start', '--silent']);
  await expectCleanStop(server, () => server.child.kill('SIGTERM'));
});

test('Ctrl-C on `npm start` (SIGINT to the process group) stops everything, exit 0', async () => {
  const server = await spawnServer('npm', ['start', '--silent'], { detached: true });
  await expectCleanStop(server, () => process.kill(-server.child.pid!, 'SIGINT'));
});
