/**
 * Making and dropping a Stockroom database on a Citus cluster, for the test
 * harness (test/global-setup.mjs, test/global-teardown.mjs) and the
 * benchmarks that compare Citus with plain tables (bench/citus-ratio.ts):
 * one way to do it, so that what the tests run on is what was measured.
 *
 * A Citus database is one database of that name on every node, each with
 * the extension, and the coordinator's knows its workers: Citus keeps its
 * node list per database, so a new database starts with none even on a
 * coordinator whose other databases have them. Migration 0009c then
 * distributes every table (docs/citus.md, Running it).
 */
import pg from 'pg';
import { defaultRuntimeRole } from './runtime-role.js';

export interface CitusNode {
  readonly host: string;
  readonly port: number;
}

/**
 * The active workers known to the database `client` is connected to (a
 * coordinator's), or undefined when that database has no citus extension.
 * An empty list is a coordinator without workers; what to make of it is the
 * caller's choice.
 */
export async function citusWorkers(client: pg.Client): Promise<CitusNode[] | undefined> {
  if (!(await citusInstalled(client))) return undefined;
  const workers = await client.query<{ host: string; port: number }>(
    `select node_name as host, node_port as port from citus_get_active_worker_nodes() order by 1, 2`,
  );
  return workers.rows.map((row) => ({ host: row.host, port: Number(row.port) }));
}

/** Whether the database `client` is connected to has the citus extension. */
export async function citusInstalled(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ citus: boolean }>(`select exists (select from pg_extension where extname = 'citus') as citus`);
  return rows[0].citus;
}

/** `url` with the host and port of `node`: the same database and credentials on another node. */
export function nodeUrl(url: string, node: CitusNode): string {
  const parsed = new URL(url);
  parsed.hostname = node.host;
  parsed.port = String(node.port);
  return parsed.toString();
}

/** `url` naming `database` instead, on the same server with the same credentials. */
export function databaseUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Creates `database` on the server of `server_url` (the coordinator, before makeCitusDatabase). */
export async function createDatabase(server_url: string, database: string): Promise<void> {
  await runOn(server_url, [`create database ${pg.escapeIdentifier(database)}`]);
}

/**
 * Turns the database at `url` (already created on the coordinator) into a
 * Citus database: creates it on every worker, reached through the
 * administration database of `server_url` (the coordinator's URL of a
 * database that exists on every node, such as postgres), with the extension
 * there and on the coordinator, and registers the coordinator and the
 * workers in it. Returns the workers' URLs of the new database.
 */
export async function makeCitusDatabase(url: string, workers: readonly CitusNode[], server_url: string): Promise<string[]> {
  const database = new URL(url).pathname.slice(1);
  const worker_urls: string[] = [];
  for (const worker of workers) {
    await runOn(nodeUrl(server_url, worker), [`create database ${database}`]);
    const worker_url = nodeUrl(url, worker);
    worker_urls.push(worker_url);
    await runOn(worker_url, ['create extension citus']);
  }
  const coordinator = new URL(url);
  await runOn(url, [
    'create extension if not exists citus',
    `select citus_set_coordinator_host('${coordinator.hostname}', ${Number(coordinator.port || 5432)})`,
    ...workers.map((worker) => `select citus_add_node('${worker.host}', ${Number(worker.port)})`),
  ]);
  return worker_urls;
}

/**
 * Drops `database` (with force: a server left running must not keep it) on
 * the server of `server_url` and on each of `workers`, then its default
 * runtime role on each of them. Roles are cluster-wide, so it would outlive
 * its database, and on Citus it exists on every node (propagated when
 * created, copied by every citus_add_node) while a DROP ROLE sent from
 * another database is not propagated (seen on 13.2.2: the test runs' roles
 * stayed on the workers).
 */
export async function dropDatabase(server_url: string, database: string, workers: readonly CitusNode[]): Promise<void> {
  const node_urls = [server_url, ...workers.map((worker) => nodeUrl(server_url, worker))];
  for (const node_url of node_urls) await runOn(node_url, [`drop database if exists ${pg.escapeIdentifier(database)} with (force)`]);
  for (const node_url of node_urls) await runOn(node_url, [`drop role if exists ${pg.escapeIdentifier(defaultRuntimeRole(database))}`]);
}

/** Runs `statements` in order on a connection of its own (administration: no pinned session settings). */
async function runOn(url: string, statements: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}
