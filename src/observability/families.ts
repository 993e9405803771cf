/**
 * Every metric family Stockroom exports, in one place, so the README's list
 * and the code cannot drift. RPC families use the names and labels of
 * go-grpc-prometheus, so existing gRPC dashboards and alerts work unchanged.
 * No family has a per-product, per-part or per-tenant label: every label
 * takes values from a small set fixed by the code. Counters and histograms
 * are series.ts' plain numbers (cheap on the call path); gauges read or set
 * off the call path are prom-client's.
 */
import type pg from 'pg';
import { Gauge, type Registry } from 'prom-client';
import { HistogramFamily, ValueFamily } from './series.js';

/** Latencies here are milliseconds; the default Prometheus buckets start at 5 ms. */
const RPC_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const ACQUIRE_SECONDS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

const RPC = ['grpc_type', 'grpc_service', 'grpc_method'] as const;

/** The pool the pool gauges read when scraped, never on the call path; set once the database is open. */
export interface PoolWatch {
  pool?: pg.Pool;
}

export function createFamilies(registry: Registry, watched: PoolWatch) {
  const registers = [registry];
  const counter = (name: string, help: string, labels: readonly string[] = []) => new ValueFamily(registry, 'counter', name, help, labels);
  return {
    // RPCs (go-grpc-prometheus)
    started: counter('grpc_server_started_total', 'RPCs started on the server.', RPC),
    handled: counter('grpc_server_handled_total', 'RPCs completed on the server, by gRPC status code.', [...RPC, 'grpc_code']),
    handling: new HistogramFamily(
      registry,
      'grpc_server_handling_seconds',
      'Time from the start of an RPC until the server finished it (the last message for streams).',
      RPC_SECONDS_BUCKETS,
      RPC,
    ),
    received: counter('grpc_server_msg_received_total', 'Request messages received.', RPC),
    sent: counter('grpc_server_msg_sent_total', 'Response messages sent.', RPC),
    in_flight: new ValueFamily(registry, 'gauge', 'stockroom_rpc_in_flight', 'RPCs being handled right now.', RPC),
    errors: counter(
      'stockroom_rpc_errors_total',
      'Failed RPCs by google.rpc.ErrorInfo reason (NONE without one, OTHER past the bound on distinct reasons).',
      ['grpc_service', 'grpc_method', 'grpc_code', 'reason'],
    ),
    // Database
    transactions: counter(
      'stockroom_db_transactions_total',
      'Transaction attempts by outcome: commit, rollback, or retry (after a deadlock or serialization failure).',
      ['outcome'],
    ),
    retries: counter('stockroom_db_transaction_retries_total', 'Transactions retried after a deadlock or a serialization failure.', ['reason']),
    lock_timeouts: counter('stockroom_db_lock_timeouts_total', 'Transactions that waited longer than lock_timeout for a row lock.'),
    statement_timeouts: counter('stockroom_db_statement_timeouts_total', 'Transactions whose statement ran longer than statement_timeout.'),
    deadline_cancels: counter('stockroom_db_deadline_cancels_total', "Statements cancelled in PostgreSQL because the call's deadline passed or its client went away."),
    acquire: new HistogramFamily(registry, 'stockroom_db_connection_acquire_seconds', 'Time to get a connection from the pool.', ACQUIRE_SECONDS_BUCKETS),
    pool_connections: new Gauge({
      name: 'stockroom_db_pool_connections',
      help: 'Pool connections by state: used or idle.',
      labelNames: ['state'],
      registers,
      collect() {
        if (watched.pool === undefined) return;
        this.set({ state: 'used' }, watched.pool.totalCount - watched.pool.idleCount);
        this.set({ state: 'idle' }, watched.pool.idleCount);
      },
    }),
    pool_max: new Gauge({ name: 'stockroom_db_pool_max', help: 'Most connections the pool opens (STOCKROOM_DATABASE_POOL_MAX).', registers }),
    pool_waiting: new Gauge({
      name: 'stockroom_db_pool_waiting',
      help: 'Transactions waiting for a pool connection.',
      registers,
      collect() {
        if (watched.pool !== undefined) this.set(watched.pool.waitingCount);
      },
    }),
    // Stock
    movements: counter('stockroom_stock_movements_total', 'Committed stock movements (ledger rows) by service and movement type.', ['grpc_service', 'type']),
    insufficient: counter('stockroom_stock_insufficient_total', 'Calls refused with INSUFFICIENT_STOCK.', ['grpc_service', 'grpc_method']),
    replays: counter(
      'stockroom_idempotent_replays_total',
      'Calls answered from a stored response because their idempotency key was seen before.',
      ['grpc_service', 'grpc_method'],
    ),
    holds_expired: counter('stockroom_holds_expired_total', 'Expired holds released by the sweeper.', ['grpc_service']),
    events_written: counter('stockroom_events_written_total', 'Events written to the outbox.', ['grpc_service', 'type']),
    events_relayed: counter('stockroom_events_relayed_total', 'Outbox events published by the relay.'),
    relay_lag: new Gauge({ name: 'stockroom_event_relay_lag_seconds', help: 'Age of the oldest event not yet relayed.', registers }),
    // Health check and reconcile, refreshed on an interval
    findings: new Gauge({
      name: 'stockroom_health_findings',
      help: 'Findings of the last health check and reconcile, summed over the tenants checked.',
      labelNames: ['grpc_service', 'check'],
      registers,
    }),
    tenants_checked: new Gauge({ name: 'stockroom_health_tenants_checked', help: 'Tenants the last health refresh covered.', labelNames: ['grpc_service'], registers }),
    health_refreshed: new Gauge({
      name: 'stockroom_health_last_success_timestamp_seconds',
      help: 'When the health gauges were last refreshed successfully (Unix time).',
      labelNames: ['grpc_service'],
      registers,
    }),
    health_failures: counter('stockroom_health_refresh_failures_total', 'Health refreshes that failed.', ['grpc_service']),
  };
}

export type Families = ReturnType<typeof createFamilies>;
