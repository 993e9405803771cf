/**
 * MikroORM set up for the service: one pool, capped small on purpose, whose
 * connections all run as the deployment's non-owner runtime role (see
 * runtime-role.ts), so row-level security applies to every statement the
 * service sends.
 */
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { CompiledQuery, type DatabaseConnection } from 'kysely';
import pg from 'pg';
import { ENTITIES } from './entities.js';
import { MIGRATIONS } from './migrations/index.js';
import { startSession } from './pipeline.js';
import { sessionOptions } from './session.js';

const { escapeIdentifier } = pg;

export interface OrmOptions {
  readonly url: string;
  /**
   * Pool size. Kept near the core count: on one hot row, throughput falls
   * past about 8 concurrent transactions and p99 climbs, so more connections
   * only queue inside PostgreSQL instead of in Node.
   */
  readonly pool_max: number;
  /** The deployment's runtime role: what service connections switch to, and what migrations grant to. */
  readonly runtime_role: string;
  /** Migrations connect as the owner and must not switch role. */
  readonly as_owner?: boolean;
}

export function ormOptions(options: OrmOptions): Options {
  return {
    clientUrl: options.url,
    entities: ENTITIES,
    discovery: { warnWhenNoEntities: false },
    extensions: [Migrator],
    migrations: {
      migrationsList: MIGRATIONS,
      tableName: 'stockroom_migrations',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      snapshotOnMigrate: false,
      silent: true,
    },
    pool: { min: 0, max: options.pool_max, idleTimeoutMillis: 30_000 },
    // Merged into the pg Pool's options: the session settings ride in the startup packet.
    // Migrations read the runtime role's name from stockroom.runtime_role (see migrations/sql.ts).
    driverOptions: { options: sessionOptions(options.as_owner ? { 'stockroom.runtime_role': options.runtime_role } : {}) },
    forceUtcTimezone: true,
    allowGlobalContext: false,
    debug: false,
    onCreateConnection: async (connection: unknown) => {
      // Session-wide, once per physical connection: cheaper than per
      // transaction, and a statement that escapes our transaction helper
      // still cannot act as the table owner. The connection's backend pid is
      // learnt in the same round trip, for cancelling (pipeline.ts).
      const steps = options.as_owner ? [] : [{ text: `set role ${escapeIdentifier(options.runtime_role)}` }];
      await startSession((pipeline) => (connection as DatabaseConnection).executeQuery({ sql: pipeline, parameters: [], query: { kind: 'RawNode' } } as unknown as CompiledQuery), steps);
    },
  };
}

export function openOrm(options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init(ormOptions(options));
}
