/**
 * One RPC, one transaction. Every domain operation runs through
 * TransactionRunner.run, which
 *  - takes a connection from the ORM's pool and opens a transaction on it
 *    with its first statement: BEGIN, the caller's tenant for row-level
 *    security and the bounds on lock waits and statement time travel with
 *    that statement as one pipeline (pipeline.ts), one round trip; a
 *    transaction that never sends a statement never begins,
 *  - makes the unit of work (a fresh EntityManager fork bound to that
 *    transaction, flushed before commit) the first time the work asks for
 *    `tx.em`,
 *  - retries deadlocks and serialization failures a bounded number of times,
 *  - turns lock timeouts and exhausted retries into AbortedError, and a lost
 *    or refused database connection into UnavailableError
 *    (DATABASE_UNAVAILABLE), reported to the availability tracker.
 *
 * Hot paths send their SQL through Tx.query with named statements: PostgreSQL
 * parses and plans each once per connection instead of once per call
 * (measured here: unnamed statements cost 25–45% more).
 */
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { CompiledQuery, type Kysely } from 'kysely';
import pg from 'pg';
import { Pipeline, type PipelineStep } from './pipeline.js';
import { AbortedError, UnavailableError, assert } from '../shared/errors.js';
import type { CallContext, Caller } from '../shared/caller.js';

/** A named SQL statement, prepared once per connection on first use. */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

const statement_names = new Map<string, string>();

/**
 * Declares a named statement. Names are global per connection in PostgreSQL,
 * so two different texts under one name would be a bug: refused at load time.
 */
export function sql(name: string, text: string): Statement {
  const known = statement_names.get(name);
  assert(known === undefined || known === text, `statement name "${name}" is used for two different queries`);
  statement_names.set(name, text);
  return Object.freeze({ name, text });
}

/**
 * For a dynamic query (queryDynamic): appends a value to `params` and
 * returns its placeholder ($1, $2, ...).
 */
export function binder(params: unknown[]): (value: unknown) => string {
  return (value: unknown) => `$${params.push(value)}`;
}

/** Every statement declared so far, name → text (for tests that check them all). */
export function declaredStatements(): ReadonlyMap<string, string> {
  return statement_names;
}

export interface Tx {
  /** The unit of work of this transaction, for entity reads and writes. */
  readonly em: EntityManager;
  readonly caller: Caller;
  /** Runs a named (prepared) statement in this transaction. */
  query<Row>(statement: Statement, params: readonly unknown[]): Promise<Row[]>;
  /** Runs SQL whose text varies per call (dynamic filters); parameters stay separate from text. */
  queryDynamic<Row>(text: string, params: readonly unknown[]): Promise<Row[]>;
  /**
   * Runs the statement the work means to be the transaction's last. When
   * nothing else is left to it (no unit of work to flush, no statement
   * promised after it by `notLast`), COMMIT goes with it in the same round
   * trip: a transaction of one statement costs one round trip. The
   * statement must leave nothing to roll back if the work then refuses on
   * its answer (it writes all or nothing, and a refusal writes nothing); a
   * failed statement still rolls back, its COMMIT never running. No
   * statement may follow it.
   */
  queryLast<Row>(statement: Statement, params: readonly unknown[]): Promise<Row[]>;
  /** Runs `work`, whose last statement is not the transaction's (something is written after it, e.g. an idempotency record). */
  notLast<T>(work: () => Promise<T>): Promise<T>;
  /**
   * Counts something for the metrics once this transaction commits, so a
   * rolled-back or retried attempt counts nothing (e.g. stock movements).
   */
  count(counter: CommittedCounter, grpc_service: string, label: string, by?: number): void;
}

/** What Tx.count counts; each is one metric family (src/observability/metrics.ts). */
export type CommittedCounter = 'stock_movements' | 'idempotent_replays' | 'holds_expired' | 'events_written' | 'events_relayed';

export interface CommittedCount {
  readonly counter: CommittedCounter;
  readonly grpc_service: string;
  readonly label: string;
  readonly by: number;
}

/** Why a transaction attempt failed, for the metrics; undefined for everything else. */
export type TransactionFailure = 'deadlock' | 'serialization_failure' | 'lock_timeout' | 'statement_timeout' | 'cancelled';

/** An open trace span of a transaction; its statements become child spans. */
export interface TransactionTrace {
  statement(name: string): { end(error?: unknown): void };
  end(outcome: 'commit' | 'rollback', error?: unknown): void;
}

/**
 * Sees every transaction, for metrics and traces (src/observability/). Kept
 * to a few calls per transaction so the hot path stays cheap.
 */
export interface TransactionObserver {
  /** Time from asking the pool for a connection until holding one. */
  connectionAcquired(wait_seconds: number): void;
  /** One attempt ended: committed (with what it counted), rolled back, or about to be retried. */
  attemptEnded(outcome: 'commit' | 'rollback' | 'retry', failure: TransactionFailure | undefined, counted: readonly CommittedCount[] | undefined): void;
  /** pg_cancel_backend was sent because the call's deadline passed or its client went away. */
  backendCancelled(): void;
  /** A span for one transaction, or undefined when tracing is off. */
  traceTransaction(read_only: boolean): TransactionTrace | undefined;
}

export interface TransactionLimits {
  readonly lock_timeout_ms: number;
  readonly statement_timeout_ms: number;
  /** Extra attempts after a deadlock or serialization failure. */
  readonly retry_max: number;
}


/** Cancels whatever the backend with this pid is running (pg_cancel_backend), from another connection. */
export type CancelBackend = (backend_pid: number) => Promise<void>;

/**
 * BEGIN and the transaction's settings, as the first steps of the
 * transaction's first pipeline (pipeline.ts): they travel with its first
 * statement, in one round trip. The settings are SET LOCAL statements
 * rather than set_config() calls: a distributed PostgreSQL (Citus, with
 * citus.propagate_set_commands = 'local', pinned in session.ts) carries a
 * SET LOCAL to every node the transaction's statements run on, and
 * row-level security there must see the tenant; set_config() stays on the
 * node it ran on. Each SET LOCAL is a statement of its own, so that is all
 * Citus replays on a worker. SET takes no bind parameters, so every value
 * is a literal escaped here; the tenant is also a validated name. The
 * caller (JWT subject) rides along for the outbox triggers, which record
 * who made each change (migration 0007); a maintenance task (a sweep that
 * spans tenants) declares itself here too. Exported for the benchmark's
 * raw-db ceiling, which sends the same.
 */
export function beginSteps(
  tenant_id: string,
  limits: Pick<TransactionLimits, 'lock_timeout_ms' | 'statement_timeout_ms'>,
  read_only: boolean,
  caller_subject = '',
  maintenance_task?: string,
): PipelineStep[] {
  const settings: [string, string][] = [
    ['stockroom.tenant_id', tenant_id],
    ['stockroom.caller', caller_subject],
    ['lock_timeout', `${Math.trunc(limits.lock_timeout_ms)}ms`],
    ['statement_timeout', `${Math.trunc(limits.statement_timeout_ms)}ms`],
  ];
  if (maintenance_task !== undefined) settings.push(['stockroom.maintenance', maintenance_task]);
  return [
    { name: read_only ? 'stockroom_begin_read_only' : 'stockroom_begin', text: read_only ? 'start transaction read only' : 'begin' },
    ...settings.map(([name, value]) => ({ text: `set local ${name} = ${pg.escapeLiteral(value)}` })),
  ];
}

const COMMIT = CompiledQuery.raw('commit');
/** COMMIT as a pipeline's last step (Tx.queryLast); exported for the benchmark's raw-db ceiling, which sends the same. */
export const COMMIT_STEP: PipelineStep = { name: 'stockroom_commit', text: 'commit' };
const ROLLBACK = CompiledQuery.raw('rollback');

// PostgreSQL SQLSTATEs we act on.
const DEADLOCK_DETECTED = '40P01';
const SERIALIZATION_FAILURE = '40001';
const LOCK_NOT_AVAILABLE = '55P03';
const QUERY_CANCELED = '57014';

/** The SQLSTATE of a pg error, also when MikroORM wrapped it. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

// Errors of the socket under a connection (Node system error codes).
const NETWORK_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);

// What pg and its pool say, with no SQLSTATE, when a connection is gone or cannot be had.
const CONNECTION_LOST = /connection terminated|terminating connection|connection error|not queryable|timeout exceeded when trying to connect|pool after calling end|server closed the connection|connection ended|socket hang up/i;

/**
 * True when `error` says the database connection was lost or refused:
 * SQLSTATE class 08 (connection exception), 57P01 (admin shutdown, also what
 * pg_terminate_backend sends), 57P02 (crash shutdown), 57P03 (cannot connect
 * now), a network error, or pg's own words for a dead connection or pool.
 * Looks through `cause` and AggregateError (a refused localhost connection
 * tries IPv4 and IPv6).
 */
export function isConnectionFailure(error: unknown, depth = 0): boolean {
  if (error === null || typeof error !== 'object' || depth > 4) return false;
  const state = sqlState(error);
  if (state !== undefined) return state.startsWith('08') || state === '57P01' || state === '57P02' || state === '57P03';
  const { code, message, cause, errors } = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return true;
  if (typeof message === 'string' && CONNECTION_LOST.test(message)) return true;
  if (Array.isArray(errors) && errors.some((each) => isConnectionFailure(each, depth + 1))) return true;
  return isConnectionFailure(cause, depth + 1);
}

/** What the client gets during an outage; no database text. */
export function databaseUnavailable(): UnavailableError {
  return new UnavailableError('the database is unavailable; retry with backoff', 'DATABASE_UNAVAILABLE');
}

/** Where the runner reports connection failures and successes (see availability.ts). */
export interface AvailabilityReport {
  failed(error: unknown): void;
  succeeded(): void;
}

/** A statement and its values as one step of a pipeline. */
function stepOf(name: string | undefined, text: string, params: readonly unknown[]): PipelineStep {
  return { name, text, values: params, rows: true };
}

class PostgresTx implements Tx {
  #em: EntityManager | undefined;
  /** What `count` collected; reported only if this attempt commits. */
  counted: CommittedCount[] | undefined;
  /** BEGIN and the settings, until they are sent with the transaction's first statement. */
  #begin: readonly PipelineStep[] | undefined;
  /** The first pipeline, once sent; undefined while the transaction has not started in PostgreSQL. */
  started: Promise<unknown> | undefined;
  /** True once a queryLast committed with its statement. */
  committed = false;
  /** How many `notLast` works are running: while any is, queryLast does not commit. */
  #not_last = 0;
  /** Resolves with the backend pid once the first pipeline is out, or with undefined when the attempt ends without one. */
  readonly backend_pid: Promise<number | undefined>;
  #sent!: (backend_pid: number | undefined) => void;

  constructor(
    private readonly orm: MikroORM,
    readonly caller: Caller,
    /** Queries on the transaction's one connection. */
    private readonly transaction: Kysely<any>,
    private readonly trace: TransactionTrace | undefined,
    begin: readonly PipelineStep[],
    private readonly signal: AbortSignal | undefined,
  ) {
    this.#begin = begin;
    this.backend_pid = new Promise((resolve) => (this.#sent = resolve));
  }

  count(counter: CommittedCounter, grpc_service: string, label: string, by = 1): void {
    (this.counted ??= []).push({ counter, grpc_service, label, by });
  }

  /**
   * The unit of work, made on first use: forking an EntityManager and
   * flushing it cost more Node CPU per call than the statements of a stock
   * operation, which never needs one. Its statements queue on the
   * connection behind BEGIN, sent now on its own.
   */
  get em(): EntityManager {
    if (this.#em === undefined) {
      this.stillOpen();
      if (this.#begin !== undefined) void this.send([], 'begin').catch(() => {});
      const em = this.orm.em.fork({ clear: true });
      em.setTransactionContext(this.transaction);
      this.#em = em;
    }
    return this.#em;
  }

  async query<Row>(statement: Statement, params: readonly unknown[]): Promise<Row[]> {
    return (await this.send<Row>([stepOf(statement.name, statement.text, params)], statement.name)).rows;
  }

  async queryDynamic<Row>(text: string, params: readonly unknown[]): Promise<Row[]> {
    return (await this.send<Row>([stepOf(undefined, text, params)], 'dynamic')).rows;
  }

  async queryLast<Row>(statement: Statement, params: readonly unknown[]): Promise<Row[]> {
    if (this.#not_last > 0 || this.#em !== undefined) return this.query(statement, params);
    const { rows } = await this.send<Row>([stepOf(statement.name, statement.text, params), COMMIT_STEP], statement.name);
    this.committed = true;
    return rows;
  }

  async notLast<T>(work: () => Promise<T>): Promise<T> {
    this.#not_last++;
    try {
      return await work();
    } finally {
      this.#not_last--;
    }
  }

  /** Writes what the unit of work still holds (as em.transactional does before commit). */
  async flush(): Promise<void> {
    if (this.#em !== undefined) await this.#em.flush();
  }

  /** Called when the attempt is over: a cancel waiting for the first pipeline stops waiting. */
  ended(): void {
    this.#sent(undefined);
  }

  private stillOpen(): void {
    assert(!this.committed, 'a statement after the transaction committed with its last one (queryLast)');
  }

  /**
   * Sends `steps` as one pipeline (pipeline.ts), through the ORM's driver,
   * which hands a pg query object to pg unchanged. The transaction's first
   * pipeline carries BEGIN and the settings before them.
   */
  private send<Row>(steps: readonly PipelineStep[], name: string): Promise<{ rows: Row[] }> {
    this.stillOpen();
    let all = steps;
    if (this.#begin !== undefined) {
      // Nothing was sent yet: a call already over starts nothing.
      this.signal?.throwIfAborted();
      all = [...this.#begin, ...steps];
      this.#begin = undefined;
    }
    const pipeline = new Pipeline(all, this.started === undefined ? this.#sent : undefined);
    const compiled = { sql: pipeline, parameters: [], query: { kind: 'RawNode' } } as unknown as CompiledQuery;
    const result = this.traced<Row>(name, compiled);
    this.started ??= result;
    return result;
  }

  private async traced<Row>(name: string, compiled: CompiledQuery): Promise<{ rows: Row[] }> {
    const span = this.trace?.statement(name);
    if (span === undefined) return this.transaction.executeQuery<Row>(compiled);
    try {
      const result = await this.transaction.executeQuery<Row>(compiled);
      span.end();
      return result;
    } catch (error) {
      span.end(error);
      throw error;
    }
  }
}

export interface RunOptions {
  readonly read_only?: boolean;
  /**
   * A sweep that spans tenants declares itself (stockroom.maintenance): the
   * policies of migrations 0005 to 0007 let such a tenant-less transaction
   * see exactly what its task needs.
   */
  readonly maintenance_task?: string;
}

export class TransactionRunner {
  /** The ORM's own query builder and pool: the unit of work and the statements share connections. */
  private readonly client: Kysely<any>;

  constructor(
    private readonly orm: MikroORM,
    private readonly limits: TransactionLimits,
    private readonly cancel_backend?: CancelBackend,
    private readonly observer?: TransactionObserver,
    private readonly availability?: AvailabilityReport,
  ) {
    this.client = orm.em.getConnection().getClient();
  }

  /**
   * Runs `work` in one transaction for the caller's tenant. `work` may run
   * more than once (after a deadlock), so it must not have side effects
   * outside the transaction.
   */
  run<T>(context: CallContext, work: (tx: Tx) => Promise<T>, options: RunOptions = {}): Promise<T> {
    const trace = this.observer?.traceTransaction(options.read_only ?? false);
    if (trace === undefined) return this.attempts(context, work, options, undefined);
    return this.attempts(context, work, options, trace).then(
      (result) => {
        trace.end('commit');
        return result;
      },
      (error: unknown) => {
        trace.end('rollback', error);
        throw error;
      },
    );
  }

  private async attempts<T>(context: CallContext, work: (tx: Tx) => Promise<T>, options: RunOptions, trace: TransactionTrace | undefined): Promise<T> {
    const observer = this.observer;
    for (let attempt = 0; ; attempt++) {
      context.signal?.throwIfAborted();
      try {
        const result = await this.attempt(context, work, options, trace);
        this.availability?.succeeded();
        return result;
      } catch (error) {
        // The call is over (deadline or cancel): report that, not what it interrupted.
        if (context.signal?.aborted) {
          observer?.attemptEnded('rollback', 'cancelled', undefined);
          throw context.signal.reason ?? error;
        }
        const state = sqlState(error);
        if (state === DEADLOCK_DETECTED || state === SERIALIZATION_FAILURE) {
          const failure = state === DEADLOCK_DETECTED ? 'deadlock' : 'serialization_failure';
          if (attempt < this.limits.retry_max) {
            observer?.attemptEnded('retry', failure, undefined);
            await backoff(attempt);
            continue;
          }
          observer?.attemptEnded('rollback', failure, undefined);
          throw new AbortedError(
            `the transaction conflicted with concurrent work ${attempt + 1} times; retry the call`,
            state === DEADLOCK_DETECTED ? 'DEADLOCK' : 'SERIALIZATION_FAILURE',
            { attempts: String(attempt + 1) },
          );
        }
        observer?.attemptEnded('rollback', state === LOCK_NOT_AVAILABLE ? 'lock_timeout' : state === QUERY_CANCELED ? 'statement_timeout' : undefined, undefined);
        if (state === LOCK_NOT_AVAILABLE) {
          throw new AbortedError(`a row stayed locked longer than ${this.limits.lock_timeout_ms} ms; retry the call`, 'LOCK_TIMEOUT', {
            lockTimeoutMs: String(this.limits.lock_timeout_ms),
          });
        }
        if (state === QUERY_CANCELED) {
          throw new AbortedError(`a statement ran longer than ${this.limits.statement_timeout_ms} ms`, 'STATEMENT_TIMEOUT', {
            statementTimeoutMs: String(this.limits.statement_timeout_ms),
          });
        }
        if (isConnectionFailure(error)) {
          this.availability?.failed(error);
          throw databaseUnavailable();
        }
        throw error;
      }
    }
  }

  private attempt<T>(context: CallContext, work: (tx: Tx) => Promise<T>, options: RunOptions, trace: TransactionTrace | undefined): Promise<T> {
    const asked_at = this.observer === undefined ? 0 : performance.now();
    return this.client.connection().execute(async (connection) => {
      this.observer?.connectionAcquired((performance.now() - asked_at) / 1000);
      const begin = beginSteps(context.caller.tenant_id, this.limits, options.read_only ?? false, context.caller.subject, options.maintenance_task);
      const tx = new PostgresTx(this.orm, context.caller, connection, trace, begin, context.signal);
      try {
        const result = await this.inTransaction(tx, context, work);
        // A transaction that never sent a statement never began, and one that
        // committed with its last statement is over: nothing to commit.
        if (tx.started !== undefined && !tx.committed) {
          await tx.started;
          await tx.flush();
          await connection.executeQuery(COMMIT);
        }
        this.observer?.attemptEnded('commit', undefined, tx.counted);
        return result;
      } catch (error) {
        // Harmless when the transaction already ended (a failed COMMIT rolls
        // back by itself); a failed rollback must not hide the first error.
        if (tx.started !== undefined && !tx.committed) await connection.executeQuery(ROLLBACK).catch(() => {});
        throw error;
      }
    });
  }

  private async inTransaction<T>(tx: PostgresTx, context: CallContext, work: (tx: Tx) => Promise<T>): Promise<T> {
    const { signal } = context;
    if (!signal || !this.cancel_backend) return work(tx);
    // When the call's deadline passes or the client goes away, the running
    // statement (a lock wait included) is cancelled in PostgreSQL, so the
    // transaction rolls back now instead of holding locks until lock_timeout.
    // (Kysely's own abort support cannot do this inside a transaction: it
    // would send the cancel over the busy transaction connection.)
    const cancel_backend = this.cancel_backend;
    let cancelling: Promise<void> | undefined;
    const on_abort = () => {
      // The backend is known once the transaction's first pipeline is out;
      // if none goes out before the attempt ends, there is nothing to cancel.
      cancelling = tx.backend_pid.then((backend_pid) => {
        if (backend_pid === undefined) return;
        this.observer?.backendCancelled();
        // A failed cancel is reported where it is sent (database.ts logs it);
        // the call has ended either way, so it does not fail the call twice.
        return cancel_backend(backend_pid).catch(() => {});
      });
    };
    signal.throwIfAborted();
    signal.addEventListener('abort', on_abort, { once: true });
    try {
      const result = await work(tx);
      // Nobody waits for this answer any more: roll back rather than commit,
      // unless the last statement already committed (Tx.queryLast): then the
      // work is done and counted as committed, whoever is still listening.
      if (!tx.committed) signal.throwIfAborted();
      return result;
    } finally {
      signal.removeEventListener('abort', on_abort);
      tx.ended();
      // Hold the connection until the cancel has landed, so it can only
      // ever hit this transaction, never the next user of the connection.
      await cancelling;
    }
  }
}

function backoff(attempt: number): Promise<void> {
  // Jitter spreads the retries of the transactions that deadlocked together.
  const delay_ms = (attempt + 1) * 5 + Math.random() * 10;
  return new Promise((resolve) => setTimeout(resolve, delay_ms));
}
