/**
 * Applies pending migrations as the table owner. Several processes may start
 * at once (replicas, parallel test workers), so an advisory lock (per
 * database) lets exactly one of them migrate while the others wait and then
 * find nothing pending.
 *
 * Before any migration the deployment's runtime role exists (created here if
 * needed, NOLOGIN) and the owner is a member of it; migrations grant to it by
 * the name they find in the session (stockroom.runtime_role). With a
 * separate runtime login, that login is made a member too. On Citus the role
 * also logs in on the workers (fitRuntimeRoleToCitus).
 */
import pg from 'pg';
import { citusInstalled } from './citus-cluster.js';
import { openOrm } from './orm.js';
import { MOVE_LEGACY_GRANTS } from './migrations/sql.js';
import { runtimeRoleFor } from './runtime-role.js';
import { connectionConfig } from './session.js';

// Any fixed 64-bit number; it only has to be ours.
const MIGRATION_LOCK_KEY = 7_150_402_511n;

export interface MigrateOptions {
  /** The runtime role's name; default derived from the database name (runtime-role.ts). */
  readonly runtime_role?: string;
  /** The login the service connects as, when it is not the migration user: made a member of the runtime role. */
  readonly runtime_login?: string;
  /** Stop after this migration (its name, e.g. '0007_events'): tests of a later migration on existing data. */
  readonly to?: string;
}

export async function migrate(url: string, options: MigrateOptions = {}): Promise<string[]> {
  const runtime_role = runtimeRoleFor(url, options.runtime_role);
  const lock_client = new pg.Client(connectionConfig(url));
  await lock_client.connect();
  try {
    await lock_client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await ensureRuntimeRole(lock_client, runtime_role, options.runtime_login);
    await fitRuntimeRoleToCitus(lock_client, runtime_role);
    const orm = await openOrm({ url, pool_max: 1, as_owner: true, runtime_role });
    try {
      const applied = await orm.migrator.up(options.to === undefined ? undefined : { to: options.to });
      // A migration written against the legacy role name must not leave grants there.
      await orm.em.getConnection().execute(MOVE_LEGACY_GRANTS);
      return applied.map((migration) => migration.name);
    } finally {
      await orm.close(true);
    }
  } finally {
    await lock_client.end(); // ending the session releases the lock
  }
}

/**
 * Creates the runtime role if this cluster has none of that name, and makes
 * the migration user (and the runtime login) members. A non-superuser owner
 * with CREATEROLE may do all of it: on PostgreSQL 15 CREATEROLE grants any
 * non-superuser role; on 16 and later the creator of a role holds ADMIN
 * OPTION on it, which granting needs.
 */
async function ensureRuntimeRole(client: pg.Client, role: string, login: string | undefined): Promise<void> {
  const quoted = pg.escapeIdentifier(role);
  const { rows } = await client.query<{ exists: boolean; member: boolean }>(
    `select exists (select from pg_roles where rolname = $1) as exists,
            exists (select from pg_roles where rolname = $1 and pg_has_role(current_user, oid, 'SET')) as member`,
    [role],
  ).catch(() =>
    // PostgreSQL 15 has no 'SET' privilege on roles; 'MEMBER' is what SET ROLE needs there.
    client.query<{ exists: boolean; member: boolean }>(
      `select exists (select from pg_roles where rolname = $1) as exists,
              exists (select from pg_roles where rolname = $1 and pg_has_role(current_user, oid, 'MEMBER')) as member`,
      [role],
    ),
  );
  if (!rows[0].exists) await client.query(`create role ${quoted} nologin`);
  if (!rows[0].member) await client.query(`grant ${quoted} to current_user`);
  if (login !== undefined) {
    const granted = await client.query(`select 1 from pg_roles r join pg_roles l on l.rolname = $2 where r.rolname = $1 and pg_has_role(l.oid, r.oid, 'MEMBER')`, [role, login]);
    if (granted.rowCount === 0) await client.query(`grant ${quoted} to ${pg.escapeIdentifier(login)}`);
  }
}

/**
 * On Citus (the extension in this database), two things about the runtime
 * role, both set on the coordinator, which Citus propagates to every node:
 *
 * - LOGIN. Citus opens its connections to the workers as the current role,
 *   which after SET ROLE is this one. A LOGIN granted on the workers alone
 *   does not last: adding or activating a node copies every role's
 *   attributes from the coordinator, NOLOGIN included (seen on 13.2.2: a
 *   citus_add_node in another database of the cluster took the login away,
 *   and every delegated call then failed). Where the role may log in from
 *   is pg_hba.conf's business on each node, as for any role.
 * - plan_cache_mode = force_custom_plan in this database, for the sessions
 *   Citus opens on the workers (they log in as this role; the service's own
 *   sessions on the coordinator log in as another user and are untouched).
 *   Citus 12.1.11-12.1.12, 13.2.1-13.2.2 and 14.0.0-14.0.1 add a cached local
 *   plan to a reused generic plan on every execution on a worker
 *   (citusdata/citus#8824): a worker backend's private memory reached 1.1 GB
 *   after 5,282 delegated Reserves. Custom plans are never reused, so
 *   nothing accumulates (8.6 MB, flat, over 10,848), and they cost the same
 *   there, because the cache missed on every call anyway.
 */
async function fitRuntimeRoleToCitus(client: pg.Client, role: string): Promise<void> {
  if (!(await citusInstalled(client))) return;
  const quoted = pg.escapeIdentifier(role);
  await client.query(`alter role ${quoted} login`);
  await client.query(`alter role ${quoted} in database ${pg.escapeIdentifier(client.database!)} set plan_cache_mode = force_custom_plan`);
}
