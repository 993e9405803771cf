/**
 * Idempotency keys (AIP-155) for every write of both services, stored in the
 * same transaction as the write's effects, so a key is either recorded with
 * its effects or not at all.
 *
 * The key is claimed first, with one INSERT … ON CONFLICT: a second call with
 * the same key blocks on the first one's uncommitted row until that commits,
 * then reads its response. Two concurrent calls therefore run the operation
 * once. A key is scoped to tenant and method; an expired key is reclaimed.
 * The reclaim compares with excluded.created_at (the new row's default,
 * now()), not now() itself, which Citus refuses in ON CONFLICT ... DO UPDATE.
 */
import { createHash } from 'node:crypto';
import { IDEMPOTENCY_PURGE_TASK } from '../db/migrations/Migration0005IdempotencyPurge.js';
import { sql, type Statement, type TransactionRunner, type Tx } from '../db/transaction.js';
import type { CallContext } from './caller.js';
import { FailedPreconditionError, InvalidArgumentError, quoteInput } from './errors.js';
import { decodeTaggedJson, encodeTaggedJson } from './tagged-json.js';

export const IDEMPOTENCY_KEY_MAX_LENGTH = 128;

const CLAIM = sql(
  'idempotency_claim',
  `insert into idempotency_keys (tenant_id, method, idempotency_key, request_hash, expires_at)
   values ($1, $2, $3, $4, now() + make_interval(hours => $5))
   on conflict (tenant_id, method, idempotency_key) do update
     set request_hash = excluded.request_hash, response = null,
         created_at = excluded.created_at, expires_at = excluded.expires_at
     where idempotency_keys.expires_at <= excluded.created_at
   returning 1 as claimed`,
);

const READ = sql(
  'idempotency_read',
  `select request_hash, response from idempotency_keys
   where tenant_id = $1 and method = $2 and idempotency_key = $3`,
);

const STORE = sql(
  'idempotency_store',
  `update idempotency_keys set response = $4
   where tenant_id = $1 and method = $2 and idempotency_key = $3`,
);

/**
 * One bounded batch of the retention sweep: the oldest expired keys of any
 * tenant, at most $1 rows, through the expiry index. The policies let a
 * tenant-less transaction that declared the sweep (MAINTENANCE) read and
 * delete expired keys only; see migration 0005.
 */
const PURGE_BATCH = sql(
  'idempotency_purge_batch',
  `with gone as (
     delete from idempotency_keys
     where (tenant_id, method, idempotency_key) in (
       select tenant_id, method, idempotency_key from idempotency_keys
       where expires_at < now() order by expires_at limit $1)
     returning 1)
   select count(*)::int as purged from gone`,
);

/**
 * The keys of a coalesced batch (src/inventory/reserve-batch.ts), claimed
 * as CLAIM claims one: new or expired keys become this transaction's, in
 * key order (the rows' order) so two batches meet at their first shared
 * key. One statement per batch size, with a row per key: Citus routes a
 * multi-row INSERT ... VALUES of one tenant to its shard in one task (an
 * INSERT ... SELECT from unnest it ran through the coordinator), and on
 * PostgreSQL it is the one statement it was. Named per size, so each
 * size a connection meets is parsed once (at most reserve_batch_max).
 * $1 tenant, $2 method, $3 retention hours, then key and request hash per row.
 */
const claim_many_statements: Statement[] = [];

function claimMany(count: number): Statement {
  const rows = Array.from({ length: count }, (_, index) => `($1, $2, $${4 + 2 * index}, $${5 + 2 * index}::bytea, now(), now() + make_interval(hours => $3))`);
  return (claim_many_statements[count] ??= sql(
    `idempotency_claim_many_${count}`,
    `insert into idempotency_keys as k (tenant_id, method, idempotency_key, request_hash, created_at, expires_at)
     values ${rows.join(',\n       ')}
     on conflict (tenant_id, method, idempotency_key) do update
       set request_hash = excluded.request_hash, response = null, created_at = excluded.created_at, expires_at = excluded.expires_at
       where k.expires_at <= excluded.created_at
     returning k.idempotency_key`,
  ));
}

const READ_MANY = sql(
  'idempotency_read_many',
  `select idempotency_key, request_hash, response from idempotency_keys
   where tenant_id = $1 and method = $2 and idempotency_key = any($3::text[])`,
);

// A key's last fresh request in a batch owns it: its input and its answer.
const STORE_MANY = sql(
  'idempotency_store_many',
  `update idempotency_keys k set request_hash = u.request_hash, response = u.response
   from unnest($3::text[], $4::bytea[], $5::text[]) as u(idempotency_key, request_hash, response)
   where k.tenant_id = $1 and k.method = $2 and k.idempotency_key = u.idempotency_key`,
);

/**
 * Claims of refused requests: a refused call alone leaves no record (its
 * transaction rolls back), so the batch, which commits for the others,
 * makes each such claim an expired key in place (expired at its own
 * creation, a moment moved back to keep expires_at > created_at). An
 * expired key is no record: the next call with it claims it, and the
 * retention sweep deletes it. The runtime role may delete only expired
 * keys, which is why this is an update.
 */
const WITHDRAW_MANY = sql(
  'idempotency_withdraw_many',
  // In UTC wall time: timestamptz - interval is only STABLE, which Citus refuses on a column in an UPDATE.
  `update idempotency_keys k set created_at = ((k.created_at at time zone 'UTC') - interval '1 millisecond') at time zone 'UTC', expires_at = k.created_at
   where k.tenant_id = $1 and k.method = $2 and k.idempotency_key = any($3::text[]) and k.response is null`,
);

/** Rows one purge statement deletes: short enough for a small transaction, far under the statement timeout. */
export const IDEMPOTENCY_PURGE_BATCH_ROWS = 1_000;
/** Batches one sweep runs at most (a million rows); the next sweep continues. */
export const IDEMPOTENCY_PURGE_BATCHES_MAX = 1_000;

export interface PurgeResult {
  readonly purged: number;
  readonly batches: number;
  /** False when the sweep stopped at its batch limit with expired keys left. */
  readonly complete: boolean;
}

/** The retention sweep runs as the service itself, with no tenant. */
const SWEEPER: CallContext = { caller: { tenant_id: '', subject: 'stockroom', roles: new Set() } };

/**
 * Deletes every expired key of every tenant, in batches of `batch_rows`,
 * each batch its own short transaction, so the purge never holds many locks
 * or runs into the statement timeout, and a backlog of any size clears.
 */
export async function purgeExpiredKeys(
  runner: TransactionRunner,
  batch_rows = IDEMPOTENCY_PURGE_BATCH_ROWS,
  batches_max = IDEMPOTENCY_PURGE_BATCHES_MAX,
): Promise<PurgeResult> {
  let purged = 0;
  for (let batches = 1; batches <= batches_max; batches++) {
    const deleted = await runner.run(
      SWEEPER,
      async (tx) => {
        const [row] = await tx.query<{ purged: number }>(PURGE_BATCH, [batch_rows]);
        return row.purged;
      },
      { maintenance_task: IDEMPOTENCY_PURGE_TASK },
    );
    purged += deleted;
    if (deleted < batch_rows) return { purged, batches, complete: true };
  }
  return { purged, batches: batches_max, complete: false };
}

/** Validates the optional key of a request; an empty string means "no key". */
export function checkIdempotencyKey(field: string, key: string | undefined): string | undefined {
  if (key === undefined || key === '') return undefined;
  if (key.length > IDEMPOTENCY_KEY_MAX_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    throw InvalidArgumentError.field(field, `must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters without spaces`);
  }
  return key;
}

/** Stable fingerprint of a request: method plus its input with object keys sorted. */
export function fingerprint(method: string, input: unknown): Buffer {
  return createHash('sha256').update(method).update('\0').update(encodeTaggedJson(sortKeys(input))).digest();
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

export interface IdempotentCall {
  /** Full method name; keys are scoped per method. */
  readonly method: string;
  readonly key: string | undefined;
  /** The domain input without the key; a different input under the same key is refused. */
  readonly input: unknown;
}

export class IdempotencyStore {
  constructor(private readonly retention_hours: number) {}

  /**
   * Runs `operation` once per key. A replay with the same input returns the
   * first result (decoded from what was stored) and changes nothing.
   */
  async run<T>(tx: Tx, call: IdempotentCall, operation: () => Promise<T>): Promise<T> {
    if (call.key === undefined) return operation();
    const tenant = tx.caller.tenant_id;
    const request_hash = fingerprint(call.method, call.input);
    const claimed = await tx.query(CLAIM, [tenant, call.method, call.key, request_hash, this.retention_hours]);
    if (claimed.length === 0) return this.replay<T>(tx, call, request_hash);
    // The record is the transaction's last write: the operation's statements come before it.
    const result = await tx.notLast(operation);
    await tx.queryLast(STORE, [tenant, call.method, call.key, encodeTaggedJson(result)]);
    return result;
  }

  private async replay<T>(tx: Tx, call: IdempotentCall, request_hash: Buffer): Promise<T> {
    const [row] = await tx.query<KeyRecord>(READ, [tx.caller.tenant_id, call.method, call.key]);
    return this.answerOf<T>(tx, call, request_hash, row);
  }

  /**
   * The answer a repeated call gets from the key's record: the first
   * call's result, or IDEMPOTENCY_KEY_REUSED when the input differs.
   */
  answerOf<T>(tx: Tx, call: IdempotentCall, request_hash: Buffer, row: KeyRecord | undefined): T {
    if (!row || !row.request_hash.equals(request_hash)) {
      throw new FailedPreconditionError(
        `idempotency key ${quoteInput(call.key ?? '')} was already used with a different request`,
        'IDEMPOTENCY_KEY_REUSED',
        { idempotencyKey: call.key ?? '', method: call.method },
      );
    }
    if (row.response === null) {
      // Only possible if the first call's transaction is still open in this very
      // transaction, which would be a programming error in the caller.
      throw new Error(`idempotency key "${call.key}" has no stored response`);
    }
    const [grpc_service = '', grpc_method = ''] = call.method.split('/');
    tx.count('idempotent_replays', grpc_service, grpc_method);
    return decodeTaggedJson<T>(row.response);
  }

  /**
   * Claims the distinct keys of a batch of calls of one method. Returns the
   * keys now claimed by this transaction, and the records of the others
   * (answered earlier; a claim still open elsewhere is waited for, as by CLAIM).
   */
  async claimMany(tx: Tx, method: string, keys: readonly { key: string; request_hash: Buffer }[]): Promise<{ claimed: Set<string>; records: Map<string, KeyRecord> }> {
    const tenant = tx.caller.tenant_id;
    const sorted = [...keys].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const claimed_rows = await tx.query<{ idempotency_key: string }>(claimMany(sorted.length), [
      tenant,
      method,
      this.retention_hours,
      ...sorted.flatMap((each) => [each.key, each.request_hash]),
    ]);
    const claimed = new Set(claimed_rows.map((row) => row.idempotency_key));
    const others = sorted.filter((each) => !claimed.has(each.key)).map((each) => each.key);
    const records = new Map<string, KeyRecord>();
    if (others.length > 0) {
      const rows = await tx.query<KeyRecord & { idempotency_key: string }>(READ_MANY, [tenant, method, others]);
      for (const row of rows) records.set(row.idempotency_key, row);
    }
    return { claimed, records };
  }

  /** Stores the answers of a batch's claimed keys and withdraws the claims whose calls were refused. */
  async settleMany(tx: Tx, method: string, answers: readonly { key: string; request_hash: Buffer; result: unknown }[], withdrawn: readonly string[]): Promise<void> {
    const tenant = tx.caller.tenant_id;
    if (answers.length > 0) {
      await tx.query(STORE_MANY, [
        tenant,
        method,
        answers.map((each) => each.key),
        answers.map((each) => each.request_hash),
        answers.map((each) => encodeTaggedJson(each.result)),
      ]);
    }
    if (withdrawn.length > 0) await tx.query(WITHDRAW_MANY, [tenant, method, withdrawn]);
  }
}

/** A stored key: the fingerprint of its call and the answer (null while its first call is still open). */
export interface KeyRecord {
  readonly request_hash: Buffer;
  readonly response: string | null;
}
