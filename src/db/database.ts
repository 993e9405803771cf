/**
 * The database as the process sees it: which server (embedded or configured),
 * migrated, with the service's connection pool open.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../server/config.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres.js';
import { migrate } from './migrate.js';
import { openOrm } from './orm.js';
import { runtimeRoleFor } from './runtime-role.js';
import { connectionConfig } from './session.js';

export interface Database {
  readonly orm: MikroORM;
  readonly embedded: boolean;
  /** The service's pg pool, for the pool gauges. */
  pool(): Promise<pg.Pool>;
  /** True while a trivial query answers; used by the health service. */
  ping(): Promise<boolean>;
  /** Cancels the statement a backend is running; for calls whose deadline passed. */
  cancelBackend(backend_pid: number): Promise<void>;
  close(): Promise<void>;
}

export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.database_url;
  if (url === undefined) {
    embedded = await startEmbeddedPostgres({
      data_dir: config.embedded_data_dir,
      port: config.embedded_port,
      on_log: (line) => logger.debug({ postgres: line }, 'embedded postgres'),
    });
    url = embedded.url;
    logger.warn(
      { data_dir: embedded.data_dir, port: embedded.port },
      'using the EMBEDDED PostgreSQL (no STOCKROOM_DATABASE_URL set); for development and tests only',
    );
  }
  try {
    const runtime_role = runtimeRoleFor(url, config.database_runtime_role);
    const migration_url = config.migration_database_url ?? url;
    const login = decodeURIComponent(new URL(url).username);
    const migration_login = decodeURIComponent(new URL(migration_url).username);
    const applied = await migrate(migration_url, {
      runtime_role,
      // With its own credentials, the service's login is not the owner: it only needs the runtime role.
      runtime_login: login !== '' && login !== migration_login ? login : undefined,
    });
    logger.info({ applied, embedded: embedded !== undefined }, applied.length ? 'migrations applied' : 'schema up to date');
    if (embedded === undefined && (login === '' || login === migration_login)) {
      // Works (every statement still runs as the runtime role), but a login
      // that owns the tables could drop them or switch off row-level security.
      logger.warn(
        { runtime_role },
        'the service logs in as the table owner; give the owner only to STOCKROOM_MIGRATION_DATABASE_URL and a login that is a member of the runtime role to STOCKROOM_DATABASE_URL (README, Roles)',
      );
    }
    const orm = await openOrm({ url, pool_max: config.database_pool_max, runtime_role });
    // Cancels go over their own small pool: the service pool may be the very
    // thing that is exhausted, and these connections keep the login role, which
    // pg_cancel_backend requires (the service role is not the session user).
    const control_pool = new pg.Pool(connectionConfig(url, { max: 2, idleTimeoutMillis: 10_000 }));
    control_pool.on('error', (error) => logger.warn({ err: error }, 'control connection error'));
    return {
      orm,
      embedded: embedded !== undefined,
      pool: () => (orm.em.getConnection() as unknown as { getNativeClient(): Promise<pg.Pool> }).getNativeClient(),
      async ping() {
        try {
          await orm.em.fork().getConnection().execute('select 1');
          return true;
        } catch {
          return false;
        }
      },
      async cancelBackend(backend_pid) {
        try {
          // ::int: Citus adds a pg_cancel_backend(bigint), and an untyped
          // parameter would match both (an error, not a cancel).
          await control_pool.query('select pg_cancel_backend($1::int)', [backend_pid]);
        } catch (error) {
          // Not fatal to the call (it has ended anyway), but the statement runs
          // on, holding its locks, until its lock or statement timeout.
          logger.warn({ err: error, backend_pid }, 'could not cancel the statement of an abandoned call; it runs until its timeout');
          throw error;
        }
      },
      async close() {
        await control_pool.end();
        await orm.close(true);
        await embedded?.stop();
      },
    };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}
