/**
 * The SQL stays what every PostgreSQL-compatible engine runs the same way,
 * a distributed one (Citus) included (issue 16): the transaction's settings
 * are SET LOCALs, non-immutable functions stay out of ON CONFLICT ... DO
 * UPDATE and RETURNING, and cancelling names its argument's type.
 */
import pg from 'pg';
import { pino } from 'pino';
import '../src/app.js';
import { openDatabase } from '../src/db/database.js';
import { Pipeline } from '../src/db/pipeline.js';
import { beginSteps, declaredStatements } from '../src/db/transaction.js';
import { connectionConfig } from '../src/db/session.js';
import { loadConfig } from '../src/server/config.js';
import { testDatabaseUrl } from './support/harness.js';

const LIMITS = { lock_timeout_ms: 1234, statement_timeout_ms: 5678 };
const NOT_IMMUTABLE = /\b(now|clock_timestamp|statement_timestamp|transaction_timestamp|current_timestamp|extract|date_part|make_interval|random|gen_random_uuid)\b/i;

/** The parts of a statement a distributed engine evaluates per shard row: DO UPDATE (SET and WHERE) and RETURNING, up to the statement's end or next CTE. */
function perRowClauses(text: string): string[] {
  const clauses: string[] = [];
  for (const match of text.matchAll(/\b(do update\b|returning\b)([\s\S]*?)(?=\)\s*,\s*\w+\s+as\s*\(|\)\s*select\b|\breturning\b|$)/gi)) clauses.push(match[0]);
  return clauses;
}

describe('SQL every PostgreSQL-compatible engine runs alike', () => {
  it('keeps non-immutable functions out of every ON CONFLICT ... DO UPDATE and RETURNING', () => {
    const statements = declaredStatements();
    expect(statements.size).toBeGreaterThan(40);
    // The check itself sees the forms it guards against.
    expect(perRowClauses(`insert into t (a) values (1) on conflict (a) do update set at = now() where t.at <= now()`).some((clause) => NOT_IMMUTABLE.test(clause))).toBe(true);
    expect(perRowClauses(`with x as (insert into t (a) values (1) returning (extract(epoch from t.at))::int8), y as (select 1) select 1`).some((clause) => NOT_IMMUTABLE.test(clause))).toBe(true);
    const offending = [...statements].flatMap(([name, text]) => perRowClauses(text).filter((clause) => NOT_IMMUTABLE.test(clause)).map((clause) => `${name}: ${clause.trim().slice(0, 120)}`));
    expect(offending).toEqual([]);
  });

  it('sets tenant, caller and timeouts as transaction-local SET LOCALs, each its own statement in the first pipeline, quoting any caller safely', async () => {
    const client = new pg.Client(connectionConfig(testDatabaseUrl()));
    await client.connect();
    try {
      const subject = `o'neil\\x"; reset all; --`;
      const begin = beginSteps('acme', LIMITS, false, subject, 'hold_expiry');
      expect(begin.map((step) => step.text).join('\n')).not.toMatch(/set_config/);
      const pipeline = new Pipeline([
        ...begin,
        {
          text: `select current_setting('stockroom.tenant_id') as tenant, current_setting('stockroom.caller') as caller,
                  current_setting('stockroom.maintenance') as task, current_setting('lock_timeout') as lock_timeout,
                  current_setting('statement_timeout') as statement_timeout, current_setting('citus.propagate_set_commands') as propagate`,
          rows: true,
        },
      ]);
      await client.query(pipeline);
      const { rows } = await pipeline;
      expect(rows[0]).toEqual({ tenant: 'acme', caller: subject, task: 'hold_expiry', lock_timeout: '1234ms', statement_timeout: '5678ms', propagate: 'local' });
      await client.query('commit');
      const after = await client.query(`select current_setting('stockroom.tenant_id', true) as tenant, current_setting('lock_timeout') as lock_timeout`);
      expect(after.rows[0].tenant ?? '').toBe('');
      expect(after.rows[0].lock_timeout).not.toBe('1234ms');
    } finally {
      await client.end();
    }
  });

  it('cancels a backend even where pg_cancel_backend is overloaded (Citus adds a bigint one), and logs a cancel that failed', async () => {
    const admin = new pg.Client(connectionConfig(testDatabaseUrl()));
    await admin.connect();
    const log: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void log.push(JSON.parse(line)) });
    const config = loadConfig({ STOCKROOM_DATABASE_URL: testDatabaseUrl(), STOCKROOM_JWT_SECRET: 'x'.repeat(48), STOCKROOM_LOG_LEVEL: 'warn' });
    const database = await openDatabase(config, logger);
    const sleeper = new pg.Client(connectionConfig(testDatabaseUrl()));
    await sleeper.connect();
    try {
      // As Citus does: a second pg_cancel_backend, so an untyped argument matches two.
      await admin.query(`create function public.pg_cancel_backend(bigint) returns boolean language sql as 'select pg_catalog.pg_cancel_backend($1::int)'`);
      const pid = (await sleeper.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      const sleeping = sleeper.query('select pg_sleep(30)').then(
        () => 'finished',
        (error: { code?: string }) => error.code,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      await database.cancelBackend(pid);
      expect(await sleeping).toBe('57014');
      await database.close();
      await expect(database.cancelBackend(pid)).rejects.toThrow();
      expect(log.some((line) => String(line.msg).includes('could not cancel'))).toBe(true);
    } finally {
      await admin.query('drop function if exists public.pg_cancel_backend(bigint)');
      await admin.end();
      await sleeper.end();
      await database.close().catch(() => {});
    }
  });
});
