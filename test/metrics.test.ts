/**
 * GET /metrics, scraped over HTTP/1.1 as Prometheus does and parsed with a
 * strict parser after a mixed workload through real grpc-js clients: every
 * documented family is there with its documented labels, and the counters
 * agree with what the test did.
 */
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { connectionConfig } from '../src/db/session.js';
import { call, expectError, newTenant, rawQuery, startStockroom, testDatabaseUrl, type TestStockroom } from './support/harness.js';
import { eventually } from './support/wait.js';
import { parsePrometheusText, valueOf, type Family } from './support/prometheus-text.js';

const INVENTORY = 'stockroom.inventory.v1.InventoryService';
const PARTS = 'stockroom.parts.v1.PartsService';
const RPC = ['grpc_type', 'grpc_service', 'grpc_method'];

/** Every family the README documents, with its labels (histograms: without `le`). */
const DOCUMENTED: Record<string, readonly string[]> = {
  grpc_server_started_total: RPC,
  grpc_server_handled_total: [...RPC, 'grpc_code'],
  grpc_server_handling_seconds: RPC,
  grpc_server_msg_received_total: RPC,
  grpc_server_msg_sent_total: RPC,
  stockroom_rpc_in_flight: RPC,
  stockroom_rpc_errors_total: ['grpc_service', 'grpc_method', 'grpc_code', 'reason'],
  stockroom_db_transactions_total: ['outcome'],
  stockroom_db_transaction_retries_total: ['reason'],
  stockroom_db_lock_timeouts_total: [],
  stockroom_db_statement_timeouts_total: [],
  stockroom_db_deadline_cancels_total: [],
  stockroom_db_connection_acquire_seconds: [],
  stockroom_db_pool_connections: ['state'],
  stockroom_db_pool_max: [],
  stockroom_db_pool_waiting: [],
  stockroom_stock_movements_total: ['grpc_service', 'type'],
  stockroom_stock_insufficient_total: ['grpc_service', 'grpc_method'],
  stockroom_idempotent_replays_total: ['grpc_service', 'grpc_method'],
  stockroom_holds_expired_total: ['grpc_service'],
  stockroom_events_written_total: ['grpc_service', 'type'],
  stockroom_events_relayed_total: [],
  stockroom_event_relay_lag_seconds: [],
  stockroom_health_findings: ['grpc_service', 'check'],
  stockroom_health_tenants_checked: ['grpc_service'],
  stockroom_health_last_success_timestamp_seconds: ['grpc_service'],
  stockroom_health_refresh_failures_total: ['grpc_service'],
  nodejs_eventloop_lag_seconds: [],
  nodejs_heap_size_used_bytes: [],
  nodejs_gc_duration_seconds: ['kind'],
  process_cpu_seconds_total: [],
};
/** Families whose series only appear once something happened (a labelled counter nobody incremented has no sample). */
const NOT_YET_HAPPENED = new Set([
  'stockroom_db_transaction_retries_total',
  // Every server on the shared test database sweeps every tenant's holds, so
  // another test file's server may release this file's hold before ours does.
  'stockroom_holds_expired_total',
  'stockroom_events_written_total',
  'stockroom_health_refresh_failures_total',
]);

// Long enough that a loaded machine still reaches the lock wait before the 400 ms deadline of the cancelled call.
const LOCK_TIMEOUT_MS = 1_500;

let stockroom: TestStockroom;
let inventory: grpc.Client;
let parts: grpc.Client;

beforeAll(async () => {
  stockroom = await startStockroom({ STOCKROOM_METRICS_HEALTH_INTERVAL_MS: '200', STOCKROOM_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS) });
  inventory = stockroom.grpcClient(INVENTORY);
  parts = stockroom.grpcClient(PARTS);
});

afterAll(async () => {
  await stockroom?.close();
});

async function scrape(url = stockroom.url, headers: Record<string, string> = {}): Promise<Map<string, Family>> {
  const response = await fetch(`${url}/metrics`, { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}

/** Holds a row lock on the tenant's items from another session until released. */
async function lockItems(tenant: string): Promise<() => Promise<void>> {
  const client = new pg.Client(connectionConfig(testDatabaseUrl()));
  await client.connect();
  await client.query('begin');
  await client.query('select 1 from inventory_items where tenant_id = $1 for update', [tenant]);
  return async () => {
    await client.query('rollback');
    await client.end();
  };
}

/** Waits until the hold with a lifetime has expired, whichever server's sweeper released it. */
async function holdExpired(rpc: (method: string, request: object) => Promise<any>): Promise<boolean> {
  const expired = (lines: any[]) => lines.length === 1 && Number(lines[0].expired) === 1;
  return expired(await eventually(async () => (await rpc('GetReservation', { reference: 'O-TTL' })).reservation?.lines ?? [], expired, { interval_ms: 100 }));
}

async function mixedWorkload() {
  const { tenant, call: rpc } = await newTenant(stockroom, inventory, 'metrics-inv');
  await rpc('CreateItem', { productId: 'A', sku: 'SKU-A', name: 'Widget', reorderPoint: 0 });
  await rpc('RecordInbound', { productId: 'A', quantity: 5, reference: 'PO-1' });
  for (let i = 0; i < 10; i++) {
    const refused = await expectError(rpc('Reserve', { items: [{ productId: 'A', quantity: 100 }], reference: `O-${i}` }));
    expect(refused.errorInfo?.reason).toBe('INSUFFICIENT_STOCK');
  }
  const reserve = { items: [{ productId: 'A', quantity: 2 }], reference: 'O-OK', idempotencyKey: 'reserve-ok' };
  await rpc('Reserve', reserve);
  await rpc('Reserve', reserve); // the replay
  await rpc('CommitOutbound', { items: [{ productId: 'A', quantity: 2 }], reference: 'O-OK' });
  // A call whose deadline passes while it waits for a lock, then one that times out on the lock.
  const release = await lockItems(tenant);
  try {
    const token = await stockroom.token({ tenant });
    const late = await expectError(call(inventory, 'Reserve', { items: [{ productId: 'A', quantity: 1 }], reference: 'O-LATE' }, token, { deadline_ms: 400 }));
    expect(late.code).toBe(4); // DEADLINE_EXCEEDED
    const blocked = await expectError(rpc('Reserve', { items: [{ productId: 'A', quantity: 1 }], reference: 'O-LOCKED' }));
    expect(blocked.errorInfo?.reason).toBe('LOCK_TIMEOUT');
  } finally {
    await release();
  }
  // A hold with a 200 ms lifetime, released by the sweeper (every second by default).
  await rpc('Reserve', { items: [{ productId: 'A', quantity: 1 }], reference: 'O-TTL', ttl: { seconds: '0', nanos: 200_000_000 } });
  const unauthenticated = await expectError(call(inventory, 'ListItems', {}, undefined));
  expect(unauthenticated.code).toBe(16);

  const { call: parts_rpc } = await newTenant(stockroom, parts, 'metrics-parts');
  const { part } = await parts_rpc('CreatePart', { part: { partNumber: 'P-1', name: 'Bearing', make: 'SKF', category: 'bearings' } });
  const { location } = await parts_rpc('CreateLocation', { location: { site: 'MAIN', name: 'Store A' } });
  await parts_rpc('ReceiveParts', { partId: part.id, locationId: location.id, qty: '10', unitCost: '1.5' });
  await parts_rpc('IssueToWorkOrder', { workOrderId: 'WO-1', partId: part.id, locationId: location.id, qty: '4' });
  return { hold_expired: await holdExpired(rpc) };
}

describe('GET /metrics', () => {
  let families: Map<string, Family>;
  let workload: { hold_expired: boolean };

  beforeAll(async () => {
    workload = await mixedWorkload();
    // The health gauges and the hold sweeper run on their own timers; wait for a pass of each.
    const checked = (service: string) => (scraped: Map<string, Family>) => valueOf(scraped, 'stockroom_health_tenants_checked', { grpc_service: service }) >= 1;
    families = await eventually(scrape, (scraped) => checked(PARTS)(scraped) && checked(INVENTORY)(scraped), { interval_ms: 100 });
  });

  test('every documented family is present, with exactly the documented labels, and the README lists it', () => {
    const readme = fs.readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8');
    for (const [name, labels] of Object.entries(DOCUMENTED)) {
      expect(readme).toContain(name);
      const family = families.get(name);
      expect(family).toBeDefined();
      if (NOT_YET_HAPPENED.has(name)) continue;
      expect(family!.samples.length).toBeGreaterThan(0);
      for (const sample of family!.samples) {
        const names = Object.keys(sample.labels).filter((label) => label !== 'le' && label !== 'quantile');
        expect({ name, labels: names.sort() }).toEqual({ name, labels: [...labels].sort() });
      }
    }
    // Nothing names a tenant: no label value is one of this run's tenant names.
    for (const family of families.values()) for (const sample of family.samples) for (const value of Object.values(sample.labels)) expect(value).not.toMatch(/^metrics-(inv|parts)-/);
  });

  test('RPC counters agree with the calls made, with go-grpc-prometheus labels', () => {
    const reserve = { grpc_type: 'unary', grpc_service: INVENTORY, grpc_method: 'Reserve' };
    expect(valueOf(families, 'grpc_server_started_total', reserve)).toBe(15);
    expect(valueOf(families, 'grpc_server_handled_total', { ...reserve, grpc_code: 'FailedPrecondition' })).toBe(10);
    expect(valueOf(families, 'grpc_server_handled_total', { ...reserve, grpc_code: 'OK' })).toBe(3);
    // The call whose deadline passed: the server records DeadlineExceeded, or
    // Canceled when the client's RST_STREAM arrives before the server's own timer.
    const late_calls = ['DeadlineExceeded', 'Canceled'].map((grpc_code) => valueOf(families, 'grpc_server_handled_total', { ...reserve, grpc_code }));
    expect(late_calls[0] + late_calls[1]).toBe(1);
    expect(valueOf(families, 'grpc_server_handled_total', { ...reserve, grpc_code: 'Aborted' })).toBe(1);
    expect(valueOf(families, 'grpc_server_handling_seconds_count', reserve)).toBe(15);
    expect(valueOf(families, 'grpc_server_msg_received_total', reserve)).toBe(15);
    expect(valueOf(families, 'grpc_server_msg_sent_total', reserve)).toBe(3);
    expect(valueOf(families, 'stockroom_rpc_in_flight', reserve)).toBe(0);
    const errors = { grpc_service: INVENTORY, grpc_method: 'Reserve' };
    expect(valueOf(families, 'stockroom_rpc_errors_total', { ...errors, grpc_code: 'FailedPrecondition', reason: 'INSUFFICIENT_STOCK' })).toBe(10);
    expect(valueOf(families, 'stockroom_rpc_errors_total', { ...errors, grpc_code: 'Aborted', reason: 'LOCK_TIMEOUT' })).toBe(1);
    expect(valueOf(families, 'stockroom_rpc_errors_total', { grpc_service: INVENTORY, grpc_method: 'ListItems', grpc_code: 'Unauthenticated' })).toBe(1);
    expect(valueOf(families, 'grpc_server_handled_total', { grpc_service: PARTS, grpc_method: 'IssueToWorkOrder', grpc_code: 'OK' })).toBe(1);
  });

  test('stock counters: refusals, replays and committed movements by type', () => {
    expect(valueOf(families, 'stockroom_stock_insufficient_total', { grpc_service: INVENTORY, grpc_method: 'Reserve' })).toBe(10);
    expect(valueOf(families, 'stockroom_idempotent_replays_total', { grpc_service: INVENTORY, grpc_method: 'Reserve' })).toBe(1);
    expect(valueOf(families, 'stockroom_stock_movements_total', { grpc_service: INVENTORY, type: 'INBOUND' })).toBe(1);
    expect(valueOf(families, 'stockroom_stock_movements_total', { grpc_service: INVENTORY, type: 'OUTBOUND' })).toBe(1);
    expect(valueOf(families, 'stockroom_stock_movements_total', { grpc_service: PARTS, type: 'RECEIVE' })).toBe(1);
    expect(valueOf(families, 'stockroom_stock_movements_total', { grpc_service: PARTS, type: 'ISSUE' })).toBe(1);
    // The hold expired; which server's sweeper counted it depends on timing
    // (they all serve the shared test database), so only the family's shape is checked above.
    expect(workload.hold_expired).toBe(true);
  });

  test('database: outcomes, a lock timeout, a deadline cancel, the pool and acquire times', () => {
    expect(valueOf(families, 'stockroom_db_lock_timeouts_total')).toBe(1);
    expect(valueOf(families, 'stockroom_db_deadline_cancels_total')).toBe(1);
    expect(valueOf(families, 'stockroom_db_statement_timeouts_total')).toBe(0);
    const commits = valueOf(families, 'stockroom_db_transactions_total', { outcome: 'commit' });
    const rollbacks = valueOf(families, 'stockroom_db_transactions_total', { outcome: 'rollback' });
    // 10 refusals + the lock timeout + the cancelled call (+ the health checks' read-only commits).
    expect(rollbacks).toBe(12);
    expect(commits).toBeGreaterThanOrEqual(9);
    // A health refresh may hold a connection it has not finished with yet.
    expect(valueOf(families, 'stockroom_db_connection_acquire_seconds_count')).toBeGreaterThanOrEqual(commits + rollbacks);
    expect(valueOf(families, 'stockroom_db_pool_max')).toBe(6);
    expect(valueOf(families, 'stockroom_db_pool_waiting')).toBe(0);
  });

  test('health-check and reconcile findings of both services are gauges over the tenants served', () => {
    const checks = {
      [PARTS]: ['negative_quantities', 'orphaned_movements', 'fifo_violations', 'balance_batch_mismatches', 'balance_ledger_mismatches', 'batch_ledger_mismatches', 'reconcile_differences'],
      [INVENTORY]: ['on_hand_ledger_mismatches', 'reserved_hold_mismatches', 'on_hand_after_breaks', 'commit_ledger_mismatches', 'reconcile_differences'],
    };
    for (const [grpc_service, names] of Object.entries(checks)) {
      expect(valueOf(families, 'stockroom_health_tenants_checked', { grpc_service })).toBeGreaterThanOrEqual(1);
      const samples = families.get('stockroom_health_findings')!.samples.filter((s) => s.labels.grpc_service === grpc_service);
      expect(Object.fromEntries(samples.map((s) => [s.labels.check, s.value]))).toEqual(Object.fromEntries(names.map((name) => [name, 0])));
      expect(valueOf(families, 'stockroom_health_last_success_timestamp_seconds', { grpc_service })).toBeGreaterThan(Date.now() / 1000 - 60);
    }
  });

  test('a finding written around the service shows in the gauge at the next refresh', async () => {
    // Break one balance as data edited outside the service could: on_hand no longer matches the ledger.
    const tenant = (await rawQuery<{ tenant_id: string }>(`select tenant_id from inventory_items where tenant_id like 'metrics-inv-%' limit 1`))[0].tenant_id;
    const outside_the_service = { settings: { session_replication_role: 'replica' } };
    await rawQuery(`update inventory_items set on_hand = on_hand + 1 where tenant_id = $1`, [tenant], outside_the_service);
    const series = { grpc_service: INVENTORY, check: 'on_hand_ledger_mismatches' };
    const seen = await eventually(async () => valueOf(await scrape(), 'stockroom_health_findings', series), (findings) => findings !== 0, { interval_ms: 100 });
    await rawQuery(`update inventory_items set on_hand = on_hand - 1 where tenant_id = $1`, [tenant], outside_the_service);
    expect(seen).toBe(1);
  });

  test('the Grafana dashboard in docs/ queries only families the server exports', () => {
    const dashboard = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../docs/grafana-dashboard.json'), 'utf8'));
    const expressions: string[] = dashboard.panels.flatMap((panel: { targets?: { expr: string }[] }) => (panel.targets ?? []).map((target) => target.expr));
    expect(expressions.length).toBeGreaterThan(15);
    const names = new Set(expressions.flatMap((expr) => expr.match(/\b(grpc_server|stockroom|nodejs|process)_[a-z0-9_]+/g) ?? []));
    for (const name of names) {
      const family = name.replace(/_(bucket|sum|count)$/, '');
      expect({ name, exported: families.has(family) || families.has(name) }).toEqual({ name, exported: true });
    }
  });

  test('is also served over HTTP/2 on the same port', async () => {
    const session = http2.connect(stockroom.url);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ':path': '/metrics' });
        let text = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => (text += chunk));
        stream.on('end', () => resolve(text));
        stream.on('error', reject);
      });
      expect(parsePrometheusText(body).has('grpc_server_started_total')).toBe(true);
    } finally {
      session.close();
    }
  });
});

test('STOCKROOM_METRICS_BEARER_TOKEN guards /metrics; STOCKROOM_METRICS_ENABLED=false removes it', async () => {
  const guarded = await startStockroom({ STOCKROOM_METRICS_BEARER_TOKEN: 'scrape-token-0123456789' });
  const disabled = await startStockroom({ STOCKROOM_METRICS_ENABLED: 'false' });
  try {
    expect((await fetch(`${guarded.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const families = await scrape(guarded.url, { authorization: 'Bearer scrape-token-0123456789' });
    expect(families.has('grpc_server_handled_total')).toBe(true);
    expect((await fetch(`${disabled.url}/metrics`)).status).toBe(404);
  } finally {
    await guarded.close();
    await disabled.close();
  }
});

test('a server stream counts each message sent, and a client that leaves ends it as Canceled', async () => {
  const health = stockroom.grpcClient('grpc.health.v1.Health') as grpc.Client & { watch(request: object): grpc.ClientReadableStream<unknown> };
  const watch = health.watch({ service: '' });
  await new Promise<void>((resolve, reject) => {
    watch.once('data', () => resolve());
    watch.once('error', reject);
  });
  const series = { grpc_type: 'server_stream', grpc_service: 'grpc.health.v1.Health', grpc_method: 'Watch' };
  let families = await scrape();
  expect(valueOf(families, 'grpc_server_msg_sent_total', series)).toBe(1);
  expect(valueOf(families, 'stockroom_rpc_in_flight', series)).toBe(1);
  watch.on('error', () => {});
  watch.cancel();
  families = await eventually(scrape, (scraped) => valueOf(scraped, 'stockroom_rpc_in_flight', series) === 0, { timeout_ms: 5_000 });
  expect(valueOf(families, 'stockroom_rpc_in_flight', series)).toBe(0);
  expect(valueOf(families, 'grpc_server_handled_total', { ...series, grpc_code: 'Canceled' })).toBe(1);
  expect(valueOf(families, 'grpc_server_handling_seconds_count', series)).toBe(1);
});

test('every method shows at zero before its first call, as go-grpc-prometheus initializes them', async () => {
  const fresh = await startStockroom({ STOCKROOM_METRICS_HEALTH_INTERVAL_MS: '0' });
  try {
    const families = await scrape(fresh.url);
    const never_called = { grpc_type: 'unary', grpc_service: PARTS, grpc_method: 'TransferBetweenLocations' };
    expect(families.get('grpc_server_started_total')!.samples.find((s) => s.labels.grpc_method === 'TransferBetweenLocations')?.value).toBe(0);
    expect(valueOf(families, 'grpc_server_handled_total', { ...never_called, grpc_code: 'OK' })).toBe(0);
    expect(families.get('grpc_server_handling_seconds')!.samples.some((s) => s.labels.grpc_method === 'TransferBetweenLocations' && s.labels.le === '+Inf')).toBe(true);
  } finally {
    await fresh.close();
  }
});
