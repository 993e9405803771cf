/**
 * A transaction's last statement can take its COMMIT along (Tx.queryLast,
 * src/db/transaction.ts): one round trip for a transaction of one
 * statement. What must hold: a committed write is there when the call
 * returns, a failed last statement rolls everything back (its COMMIT never
 * runs), nothing runs after the commit, and inside `notLast` (something is
 * written after it, e.g. an idempotency record) it does not commit.
 */
import { randomUUID } from 'node:crypto';
import { sql, TransactionRunner } from '../src/db/transaction.js';
import type { CallContext } from '../src/shared/caller.js';
import { rawQuery, startStockroom, testRuntimeRole, uniqueTenant, type TestStockroom } from './support/harness.js';

// Its own schema: the tenancy test checks every table in public, in parallel with this file.
const SCHEMA = 'test_scratch';
const TABLE = `${SCHEMA}.transaction_last`;
const INSERT = sql('test_transaction_last_insert', `insert into ${TABLE} (run, n) values ($1, $2) returning n`);
const FAIL = sql('test_transaction_last_fail', `select 1 / $1::int as boom`);
const COUNT = sql('test_transaction_last_count', `select count(*)::int as n from ${TABLE} where run = $1`);

let stockroom: TestStockroom;
let runner: TransactionRunner;
const context = (): CallContext => ({ caller: { tenant_id: uniqueTenant('last'), subject: 'test', roles: new Set() } });

beforeAll(async () => {
  stockroom = await startStockroom();
  await rawQuery(`create schema if not exists ${SCHEMA}`);
  await rawQuery(`create table if not exists ${TABLE} (run text not null, n int not null)`);
  await rawQuery(`grant usage on schema ${SCHEMA} to ${testRuntimeRole()}`);
  await rawQuery(`grant select, insert on ${TABLE} to ${testRuntimeRole()}`);
  runner = new TransactionRunner(stockroom.app.database.orm, { lock_timeout_ms: 5_000, statement_timeout_ms: 10_000, retry_max: 3 });
});
afterAll(() => stockroom.close());

async function rows(run: string): Promise<number[]> {
  return (await rawQuery<{ n: number }>(`select n from ${TABLE} where run = $1 order by n`, [run])).map((row) => row.n);
}

test('a last statement commits with it: its write is there when the call returns', async () => {
  const run = randomUUID();
  const answer = await runner.run(context(), async (tx) => {
    await tx.query(INSERT, [run, 1]);
    return tx.queryLast<{ n: number }>(INSERT, [run, 2]);
  });
  expect(answer).toEqual([{ n: 2 }]);
  expect(await rows(run)).toEqual([1, 2]);
});

test('a failed last statement rolls the whole transaction back', async () => {
  const run = randomUUID();
  await expect(
    runner.run(context(), async (tx) => {
      await tx.query(INSERT, [run, 1]);
      return tx.queryLast(FAIL, [0]);
    }),
  ).rejects.toMatchObject({ code: '22012' });
  expect(await rows(run)).toEqual([]);
});

test('nothing runs after a commit with the last statement', async () => {
  const run = randomUUID();
  await expect(
    runner.run(context(), async (tx) => {
      await tx.queryLast(INSERT, [run, 1]);
      return tx.query(INSERT, [run, 2]);
    }),
  ).rejects.toThrow(/after the transaction committed/);
  // What it committed stays committed; the statement after it never ran.
  expect(await rows(run)).toEqual([1]);
});

test('inside notLast the last statement does not commit, and a later refusal rolls it back', async () => {
  const run = randomUUID();
  await expect(
    runner.run(context(), async (tx) => {
      await tx.notLast(() => tx.queryLast(INSERT, [run, 1]));
      const [{ n }] = await tx.query<{ n: number }>(COUNT, [run]);
      expect(n).toBe(1);
      throw new Error('refused after the write');
    }),
  ).rejects.toThrow('refused after the write');
  expect(await rows(run)).toEqual([]);
});

test('a call that ends after its last statement committed gets the committed answer, not a rollback that cannot happen', async () => {
  const run = randomUUID();
  const cancelling = new TransactionRunner(
    stockroom.app.database.orm,
    { lock_timeout_ms: 5_000, statement_timeout_ms: 10_000, retry_max: 3 },
    (backend_pid) => stockroom.app.database.cancelBackend(backend_pid),
  );
  const call = new AbortController();
  const answer = await cancelling.run({ ...context(), signal: call.signal }, async (tx) => {
    const rows = await tx.queryLast<{ n: number }>(INSERT, [run, 1]);
    // The deadline passes (or the client leaves) after the commit.
    call.abort(new Error('deadline passed'));
    return rows;
  });
  expect(answer).toEqual([{ n: 1 }]);
  expect(await rows(run)).toEqual([1]);
});
