/**
 * Process configuration, read once from the environment at start.
 *
 * Every setting has a default that works on a developer's machine, and every
 * value is validated before anything starts: a bad value stops the process
 * with one line naming the variable (see main.ts), never a stack trace from
 * deep inside a library that received it.
 */
import { runtimeRoleProblem } from '../db/runtime-role.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface AuthConfig {
  /** Shared secret for HS256 tokens; undefined when public keys are used. */
  readonly hs256_secret?: string;
  /** A JWKS file path or an https URL holding RS256/ES256 public keys. */
  readonly jwks_source?: string;
  readonly issuer?: string;
  readonly audience?: string;
  readonly tenant_claim: string;
  readonly roles_claim: string;
  readonly clock_skew_seconds: number;
  /** True when no key was configured and a development secret stands in. */
  readonly using_development_secret: boolean;
  readonly reflection_requires_auth: boolean;
}

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly log_level: LogLevel;
  /** Undefined means: start the embedded PostgreSQL. */
  readonly database_url?: string;
  /** Owner credentials for migrations; defaults to database_url. */
  readonly migration_database_url?: string;
  /** The deployment's runtime role (SET ROLE on every connection); undefined: derived from the database name. */
  readonly database_runtime_role?: string;
  readonly embedded_data_dir: string;
  readonly embedded_port: number;
  readonly database_pool_max: number;
  readonly lock_timeout_ms: number;
  readonly statement_timeout_ms: number;
  readonly transaction_retry_max: number;
  readonly shutdown_grace_ms: number;
  readonly default_deadline_ms: number;
  readonly max_deadline_ms: number;
  readonly max_message_bytes: number;
  readonly idempotency_retention_hours: number;
  readonly tls_cert_file?: string;
  readonly tls_key_file?: string;
  readonly auth: AuthConfig;
}

/** A configuration value that cannot be used; its message is the whole story. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`invalid configuration: ${variable} ${reason}`);
    this.name = 'ConfigError';
  }
}

/**
 * Fixed development secret, used only with the embedded database and no key
 * configured. It is public (it is in this file), which is why main.ts warns
 * loudly and why an external database refuses to start with it.
 */
export const DEVELOPMENT_JWT_SECRET = 'stockroom-development-secret-do-not-use-in-production';

type Environment = Readonly<Record<string, string | undefined>>;

function text(env: Environment, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer(env: Environment, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${raw}`);
  return value;
}

function flag(env: Environment, name: string, fallback: boolean): boolean {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function postgresUrl(env: Environment, name: string): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'must be a URL such as postgresql://user:password@host:5432/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(name, `must use the postgresql:// scheme, got "${url.protocol}"`);
  }
  return raw;
}

function runtimeRole(env: Environment, name: string): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  const problem = runtimeRoleProblem(raw);
  if (problem !== undefined) throw new ConfigError(name, `${problem}, got "${raw}"`);
  return raw;
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function loadAuth(env: Environment, embedded: boolean): AuthConfig {
  const hs256_secret = text(env, 'STOCKROOM_JWT_SECRET');
  const jwks_source = text(env, 'STOCKROOM_JWT_JWKS');
  if (hs256_secret !== undefined && jwks_source !== undefined) {
    throw new ConfigError('STOCKROOM_JWT_JWKS', 'cannot be combined with STOCKROOM_JWT_SECRET; configure one key source');
  }
  if (hs256_secret !== undefined && Buffer.byteLength(hs256_secret) < 32) {
    throw new ConfigError('STOCKROOM_JWT_SECRET', 'must be at least 32 bytes for HS256');
  }
  const keyless = hs256_secret === undefined && jwks_source === undefined;
  if (keyless && !embedded) {
    // With a real database we are plausibly in production; a public
    // development secret there would let anyone mint admin tokens.
    throw new ConfigError('STOCKROOM_JWT_SECRET', 'or STOCKROOM_JWT_JWKS is required when STOCKROOM_DATABASE_URL is set');
  }
  return {
    hs256_secret: keyless ? DEVELOPMENT_JWT_SECRET : hs256_secret,
    jwks_source,
    issuer: text(env, 'STOCKROOM_JWT_ISSUER'),
    audience: text(env, 'STOCKROOM_JWT_AUDIENCE'),
    tenant_claim: text(env, 'STOCKROOM_JWT_TENANT_CLAIM') ?? 'tenant',
    roles_claim: text(env, 'STOCKROOM_JWT_ROLES_CLAIM') ?? 'roles',
    clock_skew_seconds: integer(env, 'STOCKROOM_JWT_CLOCK_SKEW_SECONDS', 30, 0, 300),
    using_development_secret: keyless,
    reflection_requires_auth: flag(env, 'STOCKROOM_REFLECTION_REQUIRES_AUTH', false),
  };
}

/** Reads and validates the configuration; throws ConfigError on the first bad value. */
export function loadConfig(env: Environment = process.env): Config {
  const database_url = postgresUrl(env, 'STOCKROOM_DATABASE_URL');
  const log_level = (text(env, 'STOCKROOM_LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(log_level)) {
    throw new ConfigError('STOCKROOM_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${log_level}"`);
  }
  const default_deadline_ms = integer(env, 'STOCKROOM_DEFAULT_DEADLINE_MS', 10_000, 100, 600_000);
  const max_deadline_ms = integer(env, 'STOCKROOM_MAX_DEADLINE_MS', 60_000, 100, 3_600_000);
  if (default_deadline_ms > max_deadline_ms) {
    throw new ConfigError('STOCKROOM_DEFAULT_DEADLINE_MS', `must not exceed STOCKROOM_MAX_DEADLINE_MS (${max_deadline_ms})`);
  }
  const tls_cert_file = text(env, 'STOCKROOM_TLS_CERT_FILE');
  const tls_key_file = text(env, 'STOCKROOM_TLS_KEY_FILE');
  if ((tls_cert_file === undefined) !== (tls_key_file === undefined)) {
    throw new ConfigError(tls_cert_file ? 'STOCKROOM_TLS_KEY_FILE' : 'STOCKROOM_TLS_CERT_FILE', 'must be set together with its pair');
  }
  return {
    host: text(env, 'STOCKROOM_HOST') ?? '127.0.0.1',
    port: integer(env, 'STOCKROOM_PORT', 50051, 0, 65535),
    log_level,
    database_url,
    migration_database_url: postgresUrl(env, 'STOCKROOM_MIGRATION_DATABASE_URL'),
    database_runtime_role: runtimeRole(env, 'STOCKROOM_DATABASE_RUNTIME_ROLE'),
    embedded_data_dir: text(env, 'STOCKROOM_EMBEDDED_DATA_DIR') ?? '.data/postgres',
    embedded_port: integer(env, 'STOCKROOM_EMBEDDED_PG_PORT', 0, 0, 65535),
    database_pool_max: integer(env, 'STOCKROOM_DATABASE_POOL_MAX', 8, 1, 200),
    lock_timeout_ms: integer(env, 'STOCKROOM_LOCK_TIMEOUT_MS', 2_000, 1, 60_000),
    statement_timeout_ms: integer(env, 'STOCKROOM_STATEMENT_TIMEOUT_MS', 15_000, 1, 600_000),
    transaction_retry_max: integer(env, 'STOCKROOM_TRANSACTION_RETRY_MAX', 3, 0, 10),
    shutdown_grace_ms: integer(env, 'STOCKROOM_SHUTDOWN_GRACE_MS', 10_000, 0, 300_000),
    default_deadline_ms,
    max_deadline_ms,
    max_message_bytes: integer(env, 'STOCKROOM_MAX_MESSAGE_BYTES', 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    idempotency_retention_hours: integer(env, 'STOCKROOM_IDEMPOTENCY_RETENTION_HOURS', 24, 24, 24 * 365),
    tls_cert_file,
    tls_key_file,
    auth: loadAuth(env, database_url === undefined),
  };
}
