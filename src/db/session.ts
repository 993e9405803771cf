/**
 * What every connection to the database pins at startup, whoever opens it
 * (the service pool, the control pool, migrations, tests, the benchmark).
 *
 * The code reads timestamps as ISO text in UTC, intervals in the postgres
 * style, bytea as hex, floats exactly, names unqualified in `public`, and
 * relies on READ COMMITTED re-checks and on row-level security erroring
 * rather than being skipped. A database or role default (`ALTER DATABASE …
 * SET datestyle = 'SQL, DMY'`) must not change any of that, so the values
 * travel in the startup packet (`options`, as `-c name=value`): they cost
 * no round trip and apply before the first statement.
 */
import type pg from 'pg';

/** Setting → value. Values contain no spaces, so the options string needs no escaping. */
export const SESSION_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  DateStyle: 'ISO,YMD',
  TimeZone: 'UTC',
  IntervalStyle: 'postgres',
  extra_float_digits: '1',
  search_path: 'public',
  standard_conforming_strings: 'on',
  client_encoding: 'UTF8',
  bytea_output: 'hex',
  default_transaction_isolation: 'read\\ committed',
  default_transaction_read_only: 'off',
  row_security: 'on',
  xmloption: 'content',
  application_name: 'stockroom',
  // On Citus, the transaction's SET LOCALs (tenant, timeouts; transaction.ts)
  // travel to every worker the transaction reaches; a plain PostgreSQL keeps
  // it as an unused placeholder.
  'citus.propagate_set_commands': 'local',
});

/**
 * Database defaults that differ from the pins above, as a DBA elsewhere
 * might set them (`alter database … set <each>`): CI runs the whole suite on
 * a database carrying them (TEST_DATABASE_NON_ISO=1) to prove the pins hold.
 * test/session.test.ts adds a search_path without `public`, which the whole
 * suite leaves out so that a test's own ad-hoc client (fault injection, lock
 * holders) still finds the tables by name.
 */
export const NON_ISO_DEFAULTS: readonly string[] = Object.freeze([
  `datestyle = 'SQL, DMY'`,
  `timezone = 'America/Sao_Paulo'`,
  `intervalstyle = 'sql_standard'`,
  `extra_float_digits = 0`,
  `bytea_output = 'escape'`,
]);

/** The `options` startup parameter carrying SESSION_SETTINGS (and `extra`, whose values must hold no spaces). */
export function sessionOptions(extra: Readonly<Record<string, string>> = {}): string {
  return Object.entries({ ...SESSION_SETTINGS, ...extra })
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ');
}

/** Connection settings for a pg Client or Pool on `url`, with the session pinned. */
export function connectionConfig(url: string, extra: pg.PoolConfig = {}): pg.PoolConfig {
  return { connectionString: url, options: sessionOptions(), ...extra };
}
