/**
 * The whole Stockroom, in-process, for tests: the real server on a free port
 * (HTTP/2, every interceptor) on the run's PostgreSQL, plus what a test needs
 * to talk to it the way other services do: signed tokens, @grpc/grpc-js
 * clients built from our .proto files, a Connect client, decoded error details.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRegistry, fromBinary, type DescMessage, type Registry } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { startStockroom as startApp, type Stockroom } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/server/config.js';
import { runtimeRoleFor } from '../../src/db/runtime-role.js';
import { connectionConfig } from '../../src/db/session.js';
import type { Role } from '../../src/shared/caller.js';
import { mintToken } from '../../src/tools/token.js';
import { BadRequestSchema, ErrorInfoSchema, PreconditionFailureSchema, type BadRequest, type ErrorInfo } from '../../gen/google/rpc/error_details_pb.js';
import { StatusSchema } from '../../gen/google/rpc/status_pb.js';

export const TEST_JWT_SECRET = 'stockroom-test-secret-0123456789abcdef0123456789';
export const TEST_AUDIENCE = 'stockroom-test';
export const TEST_ISSUER = 'stockroom-test-issuer';

const ROOT = path.resolve(import.meta.dirname, '../..');

export function testDatabaseUrl(): string {
  const url = process.env.STOCKROOM_TEST_DATABASE_URL;
  if (!url) throw new Error('STOCKROOM_TEST_DATABASE_URL is not set; run tests through `npm test` (jest global setup)');
  return url;
}

/** The runtime role of the run's database (what the service's connections SET ROLE to). */
export function testRuntimeRole(): string {
  return runtimeRoleFor(testDatabaseUrl());
}

export interface TokenOptions {
  readonly tenant: string;
  readonly roles?: readonly Role[];
  readonly sub?: string;
  readonly ttl_seconds?: number;
}

export interface TestStockroom {
  readonly app: Stockroom;
  readonly config: Config;
  readonly port: number;
  /** `127.0.0.1:port`, for grpc-js. */
  readonly address: string;
  /** `http://127.0.0.1:port`, for Connect and fetch. */
  readonly url: string;
  token(options: TokenOptions): Promise<string>;
  /** A grpc-js client for a fully qualified service name, e.g. `stockroom.parts.v1.PartsService`. */
  grpcClient(service: string, options?: grpc.ClientOptions): grpc.Client;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger;
  /** Collects every log line (parsed JSON, level info and up) instead of discarding them. */
  readonly log?: Record<string, unknown>[];
}

export async function startStockroom(environment: Record<string, string> = {}, options: StartOptions = {}): Promise<TestStockroom> {
  const config = loadConfig({
    STOCKROOM_DATABASE_URL: testDatabaseUrl(),
    STOCKROOM_HOST: '127.0.0.1',
    STOCKROOM_PORT: '0',
    STOCKROOM_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    STOCKROOM_JWT_SECRET: TEST_JWT_SECRET,
    STOCKROOM_JWT_AUDIENCE: TEST_AUDIENCE,
    STOCKROOM_JWT_ISSUER: TEST_ISSUER,
    STOCKROOM_DATABASE_POOL_MAX: '6',
    STOCKROOM_SHUTDOWN_GRACE_MS: '2000',
    ...environment,
  });
  const log = options.log;
  const logger = options.logger ?? (log ? pino({ level: 'info' }, { write: (line: string) => void log.push(JSON.parse(line)) }) : pino({ level: config.log_level }));
  const app = await startApp(config, logger);
  const port = app.server.port;
  const clients: grpc.Client[] = [];
  return {
    app,
    config,
    port,
    address: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    token: (options) =>
      mintToken(config.auth, {
        tenant: options.tenant,
        roles: options.roles ?? ['admin'],
        subject: options.sub ?? 'test-user',
        ttl_seconds: options.ttl_seconds,
      }),
    grpcClient(service, options) {
      const client = new (serviceConstructor(service))(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients) client.close();
      await app.stop();
    },
  };
}

let package_definition: protoLoader.PackageDefinition | undefined;

function protoFiles(directory: string): string[] {
  return fs.readdirSync(directory, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.proto'));
}

/** grpc-js service constructors, loaded from the same .proto files clients in other languages use. */
export function serviceConstructor(service: string): grpc.ServiceClientConstructor {
  package_definition ??= protoLoader.loadSync(
    [...protoFiles(path.join(ROOT, 'proto')), 'grpc/health/v1/health.proto', 'grpc/reflection/v1/reflection.proto'],
    {
      includeDirs: [path.join(ROOT, 'proto'), path.join(ROOT, 'third_party')],
      keepCase: false,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    },
  );
  const loaded = grpc.loadPackageDefinition(package_definition);
  let node: unknown = loaded;
  for (const part of service.split('.')) node = (node as Record<string, unknown>)?.[part];
  if (typeof node !== 'function') throw new Error(`no service ${service} in proto/`);
  return node as grpc.ServiceClientConstructor;
}

export interface CallOptions {
  readonly deadline_ms?: number;
  readonly metadata?: Record<string, string>;
}

/** Calls a unary method with a bearer token; rejects with the grpc ServiceError. */
export function call<Response = any>(client: grpc.Client, method: string, request: object, token?: string, options: CallOptions = {}): Promise<Response> {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
  const fn = (client as unknown as Record<string, Function>)[method];
  if (typeof fn !== 'function') throw new Error(`no method ${method} on client`);
  return new Promise((resolve, reject) => {
    // deadline_ms: 0 sends no deadline at all, as careless clients do.
    const call_options = options.deadline_ms === 0 ? {} : { deadline: Date.now() + (options.deadline_ms ?? 30_000) };
    fn.call(client, request, metadata, call_options, (error: grpc.ServiceError | null, response: Response) => {
      if (error) reject(error);
      else resolve(response);
    });
  });
}

export interface DecodedError {
  readonly code: grpc.status;
  readonly message: string;
  /** Every ErrorInfo in the status; a correct server sends exactly one. */
  readonly errorInfos: ErrorInfo[];
  readonly errorInfo: ErrorInfo | undefined;
  readonly badRequest: BadRequest | undefined;
  /** Every detail, decoded where its schema is known. */
  readonly details: { typeName: string; value: unknown }[];
}

/** Decodes `grpc-status-details-bin` the way a Go or Python client would. */
export function errorDetails(error: unknown, schemas: readonly DescMessage[] = []): DecodedError {
  const service_error = error as grpc.ServiceError;
  if (!service_error || typeof service_error.code !== 'number' || !service_error.metadata) {
    throw new Error(`not a gRPC error: ${String(error)}`);
  }
  const registry: Registry = createRegistry(ErrorInfoSchema, BadRequestSchema, PreconditionFailureSchema, ...schemas);
  const [raw] = service_error.metadata.get('grpc-status-details-bin');
  const details: { typeName: string; value: unknown }[] = [];
  if (raw) {
    const status = fromBinary(StatusSchema, raw as Buffer);
    for (const any of status.details) {
      const typeName = any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1);
      details.push({ typeName, value: anyUnpack(any, registry) });
    }
  }
  const errorInfos = details.filter((d) => d.typeName === 'google.rpc.ErrorInfo').map((d) => d.value as ErrorInfo);
  return {
    code: service_error.code,
    message: service_error.details,
    errorInfos,
    errorInfo: errorInfos[0],
    badRequest: details.find((d) => d.typeName === 'google.rpc.BadRequest')?.value as BadRequest | undefined,
    details,
  };
}

/** Awaits a call that must fail; returns its decoded error. */
export async function expectError(promise: Promise<unknown>, schemas: readonly DescMessage[] = []): Promise<DecodedError> {
  try {
    await promise;
  } catch (error) {
    return errorDetails(error, schemas);
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/**
 * Runs SQL directly against the test database, bypassing the service, for
 * tests that inject faults or check what the database itself refuses.
 * With `as_app_role`, it runs as the service's role with the given tenant set;
 * `settings` are further transaction-local settings (SET LOCAL).
 */
export async function rawQuery<Row = Record<string, unknown>>(
  text: string,
  params: unknown[] = [],
  options: { as_app_role?: boolean; tenant?: string; settings?: Record<string, string> } = {},
): Promise<Row[]> {
  const client = new pg.Client(connectionConfig(testDatabaseUrl()));
  await client.connect();
  try {
    await client.query('begin');
    if (options.as_app_role) await client.query(`set local role ${pg.escapeIdentifier(testRuntimeRole())}`);
    // SET LOCAL, as the service does (transaction.ts): Citus carries it to the workers.
    const settings = { ...(options.tenant !== undefined ? { 'stockroom.tenant_id': options.tenant } : {}), ...options.settings };
    for (const [name, value] of Object.entries(settings)) await client.query(`set local ${name} = ${pg.escapeLiteral(value)}`);
    const result = await client.query(text, params);
    await client.query('commit');
    return result.rows as Row[];
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

/**
 * Deadlocks PostgreSQL has detected in the run's database so far. On Citus
 * the row locks are taken on the workers, so their counts are the ones that
 * tell (the coordinator's is added too).
 */
export async function deadlocksDetected(): Promise<number> {
  return sumOverNodes(`select pg_stat_clear_snapshot(), deadlocks as n from pg_stat_database where datname = current_database()`);
}

/**
 * Backends of the run's database waiting for a lock now, on every node: on
 * Citus a row lock is waited for on the worker holding the row.
 */
export async function lockWaiters(): Promise<number> {
  return sumOverNodes(`select pg_stat_clear_snapshot(), count(*) as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()`);
}

/** The sum of `read`'s one number (column n) on the coordinator and each Citus worker. */
async function sumOverNodes(read: string): Promise<number> {
  const [coordinator] = await rawQuery<{ n: string }>(read);
  let total = Number(coordinator.n);
  for (const worker of citusWorkerUrls()) {
    const client = new pg.Client(connectionConfig(worker));
    await client.connect();
    try {
      total += Number((await client.query<{ n: string }>(read)).rows[0].n);
    } finally {
      await client.end();
    }
  }
  return total;
}

/** The run database's URLs on the Citus workers (global-setup.mjs); none on plain PostgreSQL. */
export function citusWorkerUrls(): string[] {
  const workers = process.env.STOCKROOM_TEST_CITUS_WORKERS;
  return workers ? (JSON.parse(workers) as string[]) : [];
}

/** Calls of one service as one caller: `(method, request) => response`. */
export type TenantCall = (method: string, request: object) => Promise<any>;

/** A fresh tenant and a caller of `client` bound to it (admin unless roles are given). */
export async function newTenant(
  stockroom: TestStockroom,
  client: grpc.Client,
  prefix: string,
  options: { roles?: readonly Role[]; sub?: string } = {},
): Promise<{ tenant: string; token: string; call: TenantCall }> {
  const tenant = uniqueTenant(prefix);
  const token = await stockroom.token({ tenant, roles: options.roles ?? ['admin'], sub: options.sub });
  return { tenant, token, call: (method, request) => call(client, method, request, token) };
}

/** A tenant name no other test uses. */
export function uniqueTenant(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}

export interface ScratchDatabase {
  /** Superuser URL of the new database. */
  readonly url: string;
  readonly name: string;
  /** `url` with another login, for role tests. */
  urlAs(user: string, password: string): string;
  drop(): Promise<void>;
}

/**
 * A new, empty database on the run's server (as the run's superuser), for
 * tests that need their own database defaults, owner or roles. Each
 * `alter database … set` default in `defaults` is applied, e.g. `datestyle = 'SQL, DMY'`.
 */
export async function createScratchDatabase(prefix: string, options: { defaults?: readonly string[]; owner?: string } = {}): Promise<ScratchDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client(connectionConfig(testDatabaseUrl()));
  await admin.connect();
  try {
    await admin.query(`create database ${pg.escapeIdentifier(name)}${options.owner ? ` owner ${pg.escapeIdentifier(options.owner)}` : ''}`);
    for (const setting of options.defaults ?? []) await admin.query(`alter database ${pg.escapeIdentifier(name)} set ${setting}`);
  } finally {
    await admin.end();
  }
  const at = (user?: string, password?: string) => {
    const parsed = new URL(testDatabaseUrl());
    parsed.pathname = `/${name}`;
    if (user !== undefined) {
      parsed.username = encodeURIComponent(user);
      parsed.password = encodeURIComponent(password ?? '');
    }
    return parsed.toString();
  };
  return {
    url: at(),
    name,
    urlAs: at,
    async drop() {
      const client = new pg.Client(connectionConfig(testDatabaseUrl()));
      await client.connect();
      try {
        await client.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
        await client.query(`drop role if exists ${pg.escapeIdentifier(runtimeRoleFor(at()))}`);
      } finally {
        await client.end();
      }
    },
  };
}

/** grpc-message (percent-encoded as on the wire) plus base64 grpc-status-details-bin: what one error adds to trailers. */
export function errorTrailerBytes(error: grpc.ServiceError): number {
  let message_bytes = 0;
  for (const byte of Buffer.from(error.details ?? '', 'utf8')) message_bytes += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? 1 : 3;
  const [raw] = error.metadata?.get('grpc-status-details-bin') ?? [];
  return message_bytes + (raw ? Buffer.from(raw as Buffer).toString('base64').length : 0);
}

/**
 * Sends raw bytes as the request message of a unary method over grpc-js,
 * the way a client with another protobuf library (or a broken one) would.
 */
export function rawGrpcCall(stockroom: TestStockroom, path: string, message: Uint8Array, token?: string): Promise<{ ok: true } | { ok: false; error: grpc.ServiceError }> {
  const client = new grpc.Client(stockroom.address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (bytes: Uint8Array) => Buffer.from(bytes),
      (bytes: Buffer) => bytes,
      message,
      metadata,
      { deadline: Date.now() + 30_000 },
      (error: grpc.ServiceError | null) => {
        client.close();
        resolve(error ? { ok: false, error } : { ok: true });
      },
    );
  });
}

export interface ConnectJsonAnswer {
  readonly status: number;
  /** The Connect error code (`invalid_argument`), or undefined on success. */
  readonly code: string | undefined;
  readonly message: string | undefined;
  readonly body_bytes: number;
  readonly errorInfos: ErrorInfo[];
  readonly badRequest: BadRequest | undefined;
  readonly body: any;
}

/** POSTs a body to a unary method with the Connect protocol in JSON over HTTP/1.1 (fetch), as curl or a browser would. */
export async function connectJsonCall(stockroom: TestStockroom, path: string, body: string | Uint8Array, token?: string): Promise<ConnectJsonAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'connect-protocol-version': '1' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${stockroom.url}${path}`, { method: 'POST', headers, body });
  const bytes = Buffer.from(await response.arrayBuffer());
  const parsed = bytes.length > 0 ? JSON.parse(bytes.toString('utf8')) : {};
  const decode = <T>(type: string, schema: DescMessage) =>
    ((parsed.details ?? []) as { type: string; value: string }[])
      .filter((detail) => detail.type === type)
      .map((detail) => fromBinary(schema, Buffer.from(detail.value, 'base64')) as T);
  return {
    status: response.status,
    code: response.ok ? undefined : parsed.code,
    message: response.ok ? undefined : parsed.message,
    body_bytes: bytes.length,
    errorInfos: response.ok ? [] : decode<ErrorInfo>('google.rpc.ErrorInfo', ErrorInfoSchema),
    badRequest: response.ok ? undefined : decode<BadRequest>('google.rpc.BadRequest', BadRequestSchema)[0],
    body: parsed,
  };
}

/** Rows a tenant has in every table with a tenant_id column: a test's proof that nothing was written. */
export async function tenantRowCounts(tenant: string): Promise<Record<string, number>> {
  const tables = await rawQuery<{ table_name: string }>(
    `select table_name from information_schema.columns
     where column_name = 'tenant_id' and table_schema = current_schema() and table_name not like 'pg_%' order by table_name`,
  );
  const counts: Record<string, number> = {};
  for (const { table_name } of tables) {
    const [row] = await rawQuery<{ count: string }>(`select count(*)::text as count from "${table_name}" where tenant_id::text = $1`, [tenant]);
    counts[table_name] = Number(row.count);
  }
  return counts;
}
