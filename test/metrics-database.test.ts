/**
 * The database families that a client cannot easily provoke through the API,
 * produced for real in PostgreSQL through the TransactionRunner: a deadlock
 * (two transactions taking two advisory locks in opposite order), retried
 * once and counted as such, and a statement timeout. The numbers are read
 * the way Prometheus reads them, from the scraped text.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { TransactionRunner, type Tx } from '../src/db/transaction.js';
import { Observability } from '../src/observability/observability.js';
import type { CallContext } from '../src/shared/caller.js';
import { startStockroom, uniqueTenant, type TestStockroom } from './support/harness.js';
import { parsePrometheusText, valueOf } from './support/prometheus-text.js';

let stockroom: TestStockroom;
let observability: Observability;
/** Generous timeouts: the deadlock test waits out PostgreSQL's deadlock_timeout (1 s). */
let runner: TransactionRunner;
/** A 200 ms statement_timeout. */
let impatient: TransactionRunner;
let exporter: http.Server;

beforeAll(async () => {
  stockroom = await startStockroom();
  observability = new Observability(stockroom.config, pino({ level: 'silent' }));
  const observer = observability.transactionObserver();
  runner = new TransactionRunner(stockroom.app.database.orm, { lock_timeout_ms: 5_000, statement_timeout_ms: 10_000, retry_max: 3 }, undefined, observer);
  impatient = new TransactionRunner(stockroom.app.database.orm, { lock_timeout_ms: 5_000, statement_timeout_ms: 200, retry_max: 3 }, undefined, observer);
  exporter = http.createServer((request, response) => void observability.serve(request, response));
  await new Promise<void>((resolve) => exporter.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise((resolve) => exporter?.close(resolve));
  await observability?.stop();
  await stockroom?.close();
});

async function scrape() {
  const response = await fetch(`http://127.0.0.1:${(exporter.address() as AddressInfo).port}/metrics`);
  return parsePrometheusText(await response.text());
}

const context = (): CallContext => ({ caller: { tenant_id: uniqueTenant('dbm'), subject: 'test', roles: new Set(['admin']) } });

test('a real deadlock is retried once and counted as a retry with its reason; both transactions commit', async () => {
  let arrived = 0;
  let release: () => void = () => {};
  const both_hold_their_first = new Promise<void>((resolve) => (release = resolve));
  const lockInOrder = (first: number, second: number) => async (tx: Tx) => {
    await tx.queryDynamic('select pg_advisory_xact_lock($1)', [first]);
    if (++arrived === 2) release();
    await both_hold_their_first;
    await tx.queryDynamic('select pg_advisory_xact_lock($1)', [second]);
    return first;
  };
  // PostgreSQL aborts one of the two after deadlock_timeout (1 s); the runner retries it.
  await Promise.all([runner.run(context(), lockInOrder(101, 102)), runner.run(context(), lockInOrder(102, 101))]);
  const families = await scrape();
  expect(valueOf(families, 'stockroom_db_transaction_retries_total', { reason: 'deadlock' })).toBe(1);
  expect(valueOf(families, 'stockroom_db_transactions_total', { outcome: 'retry' })).toBe(1);
  expect(valueOf(families, 'stockroom_db_transactions_total', { outcome: 'commit' })).toBe(2);
});

test('a statement past statement_timeout is counted, and the transaction as a rollback', async () => {
  const before = await scrape();
  await expect(impatient.run(context(), (tx) => tx.queryDynamic('select pg_sleep(2)', []))).rejects.toMatchObject({ reason: 'STATEMENT_TIMEOUT' });
  const after = await scrape();
  expect(valueOf(after, 'stockroom_db_statement_timeouts_total') - valueOf(before, 'stockroom_db_statement_timeouts_total')).toBe(1);
  expect(valueOf(after, 'stockroom_db_transactions_total', { outcome: 'rollback' }) - valueOf(before, 'stockroom_db_transactions_total', { outcome: 'rollback' })).toBe(1);
});

test('Tx.count reports only what committed: a rolled-back attempt counts nothing', async () => {
  await runner.run(context(), async (tx) => {
    tx.count('stock_movements', 'test.Service', 'RECEIVE', 3);
  });
  await expect(
    runner.run(context(), async (tx) => {
      tx.count('stock_movements', 'test.Service', 'RECEIVE', 100);
      throw new Error('the work failed after counting');
    }),
  ).rejects.toThrow('the work failed');
  expect(valueOf(await scrape(), 'stockroom_stock_movements_total', { grpc_service: 'test.Service', type: 'RECEIVE' })).toBe(3);
});
