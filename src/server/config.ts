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
  /** The connection layer's limits; see ConnectionLimits. */
  readonly connection: ConnectionLimits;
  readonly idempotency_retention_hours: number;
  readonly holds: HoldConfig;
  /** Most single-product Reserves of one item one transaction decides together (issue 15); 1 turns coalescing off. */
  readonly reserve_batch_max: number;
  readonly tls_cert_file?: string;
  readonly tls_key_file?: string;
  readonly auth: AuthConfig;
  /**
   * Signs page tokens (src/shared/page-token.ts). Replicas must share it;
   * defaults to a key derived from the HS256 JWT secret, or a random key per
   * process when tokens are verified with public keys (JWKS).
   */
  readonly page_token_secret?: string;
  readonly metrics: MetricsConfig;
  /** Undefined unless an OTLP endpoint is configured: tracing is off. */
  readonly tracing?: TracingConfig;
  readonly events: EventsConfig;
}

/** The event stream (WatchEvents), retention, and the optional NATS relay (issue 12). */
export interface EventsConfig {
  /** How often an open stream looks for newly committed events. */
  readonly poll_interval_ms: number;
  /** An idle stream sends a heartbeat this often. */
  readonly heartbeat_interval_ms: number;
  /** Events a stream holds for a client that is not reading, at most. */
  readonly stream_buffer_max: number;
  /** A stream whose buffer stays full this long ends with RESOURCE_EXHAUSTED. */
  readonly slow_client_ms: number;
  /** WatchEvents streams open at once in this process, at most; each polls the database. */
  readonly max_watches: number;
  /** Events older than this are purged (in bounded batches). */
  readonly retention_hours: number;
  /** Undefined unless STOCKROOM_NATS_URL is set: no relay. */
  readonly nats?: NatsConfig;
}

export interface NatsConfig {
  /** e.g. nats://127.0.0.1:4222 (several, comma-separated). */
  readonly servers: readonly string[];
  /** JetStream stream the relay publishes into (created if missing). */
  readonly stream: string;
  /** Subjects are `<prefix>.<tenant>.<type>`. */
  readonly subject_prefix: string;
  /** The relay's progress row: replicas of one deployment share it (one relays at a time). */
  readonly relay_name: string;
  /** How often the relay looks for unpublished events. */
  readonly relay_interval_ms: number;
}

export interface MetricsConfig {
  /** Serve GET /metrics on the service port and record metrics (the default). */
  readonly enabled: boolean;
  /** When set, GET /metrics requires `Authorization: Bearer <token>` (Prometheus' `authorization` scrape setting). */
  readonly bearer_token?: string;
  /** How often the health-check and reconcile gauges are refreshed; 0 turns the refresh off. */
  readonly health_interval_ms: number;
  /** How many tenants (seen in calls) the refresh checks, at most. */
  readonly health_tenants_max: number;
}

export type TraceSamplerName = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';

/** OpenTelemetry tracing, from the standard OTEL_* variables. */
export interface TracingConfig {
  /** Full OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces. */
  readonly traces_url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly service_name: string;
  readonly resource_attributes: Readonly<Record<string, string>>;
  readonly sampler: TraceSamplerName;
  /** Ratio for the traceidratio samplers, 0..1. */
  readonly sampler_ratio: number;
  /** Batch span processor delay (OTEL_BSP_SCHEDULE_DELAY). */
  readonly export_delay_ms: number;
}

/**
 * Bounds on what one client can hold open. Every number here exists so that a
 * silent, slow or greedy client costs the server a bounded amount, and a
 * flood is refused at once instead of queuing behind the database pool.
 */
export interface ConnectionLimits {
  /** A connection with no call in progress and no bytes either way for this long is closed. */
  readonly idle_timeout_ms: number;
  /** A request's headers (HTTP/1.1), or a first stream (HTTP/2), must arrive within this of the connection being ready for it. */
  readonly header_timeout_ms: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS we announce to every HTTP/2 client. */
  readonly max_concurrent_streams: number;
  /** Open connections beyond this are closed as they arrive. */
  readonly max_connections: number;
  /** Calls (all services but health) in progress at once; beyond it a call fails with RESOURCE_EXHAUSTED at once. */
  readonly max_calls_in_flight: number;
  /** Open grpc.health.v1.Health/Watch streams; beyond it Watch fails with RESOURCE_EXHAUSTED. */
  readonly max_health_watches: number;
}

/** Lifetimes of holds (inventory reservations and work-order part holds) and their sweeper. */
export interface HoldConfig {
  /** Lifetime of a hold whose request names none; 0: such holds never expire. */
  readonly ttl_default_ms: number;
  /** Longest lifetime a request may ask for. */
  readonly ttl_max_ms: number;
  /** How often each replica sweeps expired holds. */
  readonly sweep_interval_ms: number;
  /** Holds one sweep transaction releases at most. */
  readonly sweep_batch_rows: number;
}

const DAY_MS = 86_400_000;

function loadHolds(env: Environment): HoldConfig {
  const ttl_max_ms = integer(env, 'STOCKROOM_HOLD_TTL_MAX_MS', 30 * DAY_MS, 1, 365 * DAY_MS);
  const ttl_default_ms = integer(env, 'STOCKROOM_HOLD_TTL_DEFAULT_MS', 0, 0, 365 * DAY_MS);
  if (ttl_default_ms > ttl_max_ms) throw new ConfigError('STOCKROOM_HOLD_TTL_DEFAULT_MS', `must not exceed STOCKROOM_HOLD_TTL_MAX_MS (${ttl_max_ms})`);
  return {
    ttl_default_ms,
    ttl_max_ms,
    sweep_interval_ms: integer(env, 'STOCKROOM_HOLD_SWEEP_INTERVAL_MS', 1_000, 10, 3_600_000),
    sweep_batch_rows: integer(env, 'STOCKROOM_HOLD_SWEEP_BATCH_ROWS', 500, 1, 10_000),
  };
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

function loadConnectionLimits(env: Environment): ConnectionLimits {
  return {
    idle_timeout_ms: integer(env, 'STOCKROOM_IDLE_TIMEOUT_MS', 60_000, 100, 3_600_000),
    header_timeout_ms: integer(env, 'STOCKROOM_HEADER_TIMEOUT_MS', 10_000, 100, 600_000),
    max_concurrent_streams: integer(env, 'STOCKROOM_MAX_CONCURRENT_STREAMS', 100, 1, 10_000),
    max_connections: integer(env, 'STOCKROOM_MAX_CONNECTIONS', 1_000, 1, 1_000_000),
    max_calls_in_flight: integer(env, 'STOCKROOM_MAX_CALLS_IN_FLIGHT', 500, 1, 1_000_000),
    max_health_watches: integer(env, 'STOCKROOM_MAX_HEALTH_WATCHES', 100, 1, 100_000),
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
    connection: loadConnectionLimits(env),
    idempotency_retention_hours: integer(env, 'STOCKROOM_IDEMPOTENCY_RETENTION_HOURS', 24, 24, 24 * 365),
    holds: loadHolds(env),
    reserve_batch_max: integer(env, 'STOCKROOM_RESERVE_BATCH_MAX', 64, 1, 1_000),
    tls_cert_file,
    tls_key_file,
    auth: loadAuth(env, database_url === undefined),
    page_token_secret: text(env, 'STOCKROOM_PAGE_TOKEN_SECRET'),
    metrics: loadMetrics(env),
    tracing: loadTracing(env),
    events: loadEvents(env),
  };
}

const NATS_TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

function natsName(env: Environment, name: string, fallback: string): string {
  const value = text(env, name) ?? fallback;
  if (!NATS_TOKEN.test(value)) throw new ConfigError(name, `must be 1 to 64 letters, digits, _ or -, got "${value}"`);
  return value;
}

function loadEvents(env: Environment): EventsConfig {
  const raw_servers = text(env, 'STOCKROOM_NATS_URL');
  let nats: NatsConfig | undefined;
  if (raw_servers !== undefined) {
    const servers = raw_servers.split(',').map((server) => server.trim());
    for (const server of servers) {
      if (!/^(nats|tls):\/\/[^\s/]+$/.test(server) && !/^[^\s:/]+:\d{1,5}$/.test(server)) {
        throw new ConfigError('STOCKROOM_NATS_URL', `must be nats://host:port (comma-separated for several), got "${server}"`);
      }
    }
    nats = {
      servers,
      stream: natsName(env, 'STOCKROOM_NATS_STREAM', 'STOCKROOM'),
      subject_prefix: natsName(env, 'STOCKROOM_NATS_SUBJECT_PREFIX', 'stockroom'),
      relay_name: natsName(env, 'STOCKROOM_NATS_RELAY_NAME', 'nats'),
      relay_interval_ms: integer(env, 'STOCKROOM_NATS_RELAY_INTERVAL_MS', 200, 10, 60_000),
    };
  }
  return {
    poll_interval_ms: integer(env, 'STOCKROOM_EVENTS_POLL_MS', 200, 10, 10_000),
    heartbeat_interval_ms: integer(env, 'STOCKROOM_EVENTS_HEARTBEAT_MS', 15_000, 100, 300_000),
    stream_buffer_max: integer(env, 'STOCKROOM_EVENTS_STREAM_BUFFER', 1_000, 10, 100_000),
    slow_client_ms: integer(env, 'STOCKROOM_EVENTS_SLOW_CLIENT_MS', 30_000, 100, 600_000),
    max_watches: integer(env, 'STOCKROOM_MAX_EVENT_WATCHES', 100, 1, 10_000),
    retention_hours: integer(env, 'STOCKROOM_EVENTS_RETENTION_HOURS', 24 * 7, 1, 24 * 3650),
    nats,
  };
}

function loadMetrics(env: Environment): MetricsConfig {
  const bearer_token = text(env, 'STOCKROOM_METRICS_BEARER_TOKEN');
  if (bearer_token !== undefined && bearer_token.length < 16) throw new ConfigError('STOCKROOM_METRICS_BEARER_TOKEN', 'must be at least 16 characters');
  return {
    enabled: flag(env, 'STOCKROOM_METRICS_ENABLED', true),
    bearer_token,
    health_interval_ms: integer(env, 'STOCKROOM_METRICS_HEALTH_INTERVAL_MS', 900_000, 0, 86_400_000),
    health_tenants_max: integer(env, 'STOCKROOM_METRICS_HEALTH_TENANTS_MAX', 100, 1, 10_000),
  };
}

const SAMPLERS: readonly TraceSamplerName[] = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

/** `key=value,key2=value2` (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS), values percent-decoded. */
function keyValues(env: Environment, name: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of (text(env, name) ?? '').split(',')) {
    if (pair.trim() === '') continue;
    const at = pair.indexOf('=');
    if (at <= 0) throw new ConfigError(name, `must be key=value pairs separated by commas, got "${pair.trim()}"`);
    result[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return result;
}

/** Tracing is on only when an OTLP endpoint is configured, as the OpenTelemetry SDKs do. */
function loadTracing(env: Environment): TracingConfig | undefined {
  if (flag(env, 'OTEL_SDK_DISABLED', false) || text(env, 'OTEL_TRACES_EXPORTER') === 'none') return undefined;
  const traces_endpoint = text(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const endpoint = text(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (traces_endpoint === undefined && endpoint === undefined) return undefined;
  // The base endpoint gets the signal's path appended; the per-signal one is used as is (OTLP exporter spec).
  const traces_url = traces_endpoint ?? `${endpoint!.replace(/\/+$/, '')}/v1/traces`;
  const variable = traces_endpoint !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  if (!/^https?:\/\/[^/]/.test(traces_url)) throw new ConfigError(variable, `must be an http:// or https:// URL, got "${traces_url}"`);
  const protocol = text(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? text(env, 'OTEL_EXPORTER_OTLP_PROTOCOL');
  if (protocol === 'grpc') throw new ConfigError('OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc is not supported; Stockroom exports OTLP over HTTP (use port 4318)');
  const sampler = (text(env, 'OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on') as TraceSamplerName;
  if (!SAMPLERS.includes(sampler)) throw new ConfigError('OTEL_TRACES_SAMPLER', `must be one of ${SAMPLERS.join(', ')}, got "${sampler}"`);
  const ratio_text = text(env, 'OTEL_TRACES_SAMPLER_ARG');
  const sampler_ratio = ratio_text === undefined ? 1 : Number(ratio_text);
  if (!(sampler_ratio >= 0 && sampler_ratio <= 1)) throw new ConfigError('OTEL_TRACES_SAMPLER_ARG', `must be a ratio between 0 and 1, got "${ratio_text}"`);
  const resource_attributes = keyValues(env, 'OTEL_RESOURCE_ATTRIBUTES');
  return {
    traces_url,
    headers: { ...keyValues(env, 'OTEL_EXPORTER_OTLP_HEADERS'), ...keyValues(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS') },
    service_name: text(env, 'OTEL_SERVICE_NAME') ?? resource_attributes['service.name'] ?? 'stockroom',
    resource_attributes,
    sampler,
    sampler_ratio,
    export_delay_ms: integer(env, 'OTEL_BSP_SCHEDULE_DELAY', 5_000, 1, 600_000),
  };
}
