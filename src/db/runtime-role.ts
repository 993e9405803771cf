/**
 * The runtime role: the NOLOGIN role every service connection switches to
 * (SET ROLE), so row-level security and the grants of the migrations bind
 * every statement the service sends.
 *
 * There is one per deployment (per database), never one per cluster: roles
 * are cluster-wide in PostgreSQL, and the old shared `stockroom_app` let a
 * member reach every Stockroom database on the server (staging credentials
 * reading production). The name is configurable and defaults to
 * `<database>_stockroom_app`, capped to PostgreSQL's 63-byte names.
 */
import { createHash } from 'node:crypto';

/** The cluster-wide role of migrations 0001–0003; migration 0005b moves its grants away. */
export const LEGACY_RUNTIME_ROLE = 'stockroom_app';

const SUFFIX = '_stockroom_app';
const NAME_BYTES_MAX = 63;
const ROLE_NAME = /^[a-z_][a-z0-9_]*$/;

/** The database name of a postgresql:// URL. */
export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

/**
 * `<database>_stockroom_app`, folded to lower-case letters, digits and
 * underscores (so it never needs quoting); when that passes 63 bytes, the
 * database part is cut and 8 hex digits of its hash keep two long names apart.
 */
export function defaultRuntimeRole(database: string): string {
  let base = database.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  if (!/^[a-z_]/.test(base)) base = `_${base}`;
  if (base.length + SUFFIX.length <= NAME_BYTES_MAX) return `${base}${SUFFIX}`;
  const hash = createHash('sha256').update(database).digest('hex').slice(0, 8);
  return `${base.slice(0, NAME_BYTES_MAX - SUFFIX.length - hash.length - 1)}_${hash}${SUFFIX}`;
}

/** Why `name` cannot be a runtime role name, or undefined when it can. */
export function runtimeRoleProblem(name: string): string | undefined {
  if (!ROLE_NAME.test(name)) return 'must be lower-case letters, digits and underscores, not starting with a digit';
  if (Buffer.byteLength(name) > NAME_BYTES_MAX) return `must be at most ${NAME_BYTES_MAX} bytes`;
  if (name === LEGACY_RUNTIME_ROLE) return `must not be the cluster-wide legacy role ${LEGACY_RUNTIME_ROLE}`;
  return undefined;
}

/** The runtime role for the database at `url`: the configured name, else the default. */
export function runtimeRoleFor(url: string, configured?: string): string {
  return configured ?? defaultRuntimeRole(databaseOf(url));
}
