/**
 * The commit-ordered reader position of the events outbox (migration 0007)
 * and of both movement ledgers (migration 0008): the writing transaction's
 * id (xid8) and the row's sequence number. Readers order by (xid, id) and
 * return only rows whose xid is below their snapshot's xmin (every
 * transaction below it has ended), so a position only ever grows and
 * nothing that commits later can sort before it.
 *
 * On the wire (clients treat both as opaque):
 *  - an event's position is `<xid>-<id>` (formatPosition), the format the
 *    events API shipped with. It shows the cluster's transaction counter and
 *    the outbox's global sequence: how much the whole cluster writes.
 *  - a movement's position is sealed (sealPosition): the 16 bytes of xid
 *    and id encrypted with the server's key, so it reveals nothing but
 *    itself; only its holder's own ledger is read after it.
 */
import { InvalidArgumentError } from '../shared/errors.js';
import { openBlock, sealBlock } from '../shared/page-token.js';
import { binder, type Tx } from './transaction.js';

export interface Position {
  readonly xid: bigint;
  readonly id: bigint;
}

/** Before every event. */
export const ORIGIN: Position = { xid: 0n, id: 0n };

const POSITION = /^(\d{1,20})-(\d{1,19})$/;
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

export function formatPosition(position: Position): string {
  return `${position.xid}-${position.id}`;
}

/** @throws InvalidArgumentError (INVALID_POSITION) naming `field`. */
export function parsePosition(field: string, text: string): Position {
  const match = POSITION.exec(text);
  const position = match ? { xid: BigInt(match[1]), id: BigInt(match[2]) } : undefined;
  if (position === undefined || position.xid > UINT64_MAX || position.id > INT64_MAX) {
    throw InvalidArgumentError.field(field, 'is not a position this service returned (Event.position or Heartbeat.position)', 'INVALID_POSITION');
  }
  return position;
}

export function positionAfter(a: Position, b: Position): boolean {
  return a.xid > b.xid || (a.xid === b.xid && a.id > b.id);
}

/** The later of two positions. */
export function latest(a: Position, b: Position): Position {
  return positionAfter(b, a) ? b : a;
}

/** A movement's position as the ledgers put it on the wire: 22 characters, opaque. */
export function sealPosition(position: Position): string {
  const block = Buffer.alloc(16);
  block.writeBigUInt64BE(position.xid, 0);
  block.writeBigInt64BE(position.id, 8);
  return sealBlock(block);
}

/** @throws InvalidArgumentError (INVALID_POSITION) naming `field` for anything sealPosition did not return. */
export function unsealPosition(field: string, text: string): Position {
  const block = openBlock(text);
  const position = block && { xid: block.readBigUInt64BE(0), id: block.readBigInt64BE(8) };
  if (position === undefined || position.id < 0n) {
    throw InvalidArgumentError.field(field, 'is not a position this service returned (Movement.position or last_position)', 'INVALID_POSITION');
  }
  return position;
}

/**
 * SQL: the snapshot's xmin, the frontier of the commit-ordered read: every
 * transaction with a smaller xid has ended, so its events are all visible.
 */
export const SNAPSHOT_XMIN = 'pg_snapshot_xmin(pg_current_snapshot())';

/**
 * SQL: the node a statement (or, on Citus, a shard's part of it) runs on:
 * Citus' group id of the node, 0 without Citus (migration 0015a). Positions
 * and frontiers are one node's: a relay that reads every tenant keeps one
 * position per node.
 */
export const NODE_GROUP = 'stockroom_node_group()';

/**
 * SQL condition: row `alias` lies after ($after_xid, $after_id) and below
 * the frontier `frontier` (an xid8 expression).
 */
export function committedAfter(alias: string, after_xid: string, after_id: string, frontier: string): string {
  return `(${alias}.xid, ${alias}.id) > (${after_xid}::xid8, ${after_id}::bigint) and ${alias}.xid < ${frontier}`;
}

/**
 * SQL: `rows` (a select whose condition is committedAfter(..., 'f.xmin'))
 * beside the frontier it was read below, in one statement, so what the
 * reader reports as covered is exactly what it could see. With no row the
 * result is one row whose columns but `frontier` are null.
 */
export function belowFrontier(rows: string): string {
  return `select f.xmin::text as frontier, x.*
    from (select ${SNAPSHOT_XMIN} as xmin) f
    left join lateral (${rows}) x on true`;
}

/**
 * How far a read after `after` has covered: to its last row when it filled
 * its limit (more may follow), else to the frontier, below which nothing
 * can commit any more.
 */
export function coveredTo(after: Position, last: Position | undefined, full: boolean, frontier: string): Position {
  const reached = last ?? after;
  return full ? reached : latest(reached, { xid: BigInt(frontier), id: 0n });
}

/** A read of a ledger (alias `m`, with xid and id) after a position. */
export interface LedgerRead {
  /** Columns; must include `m.xid::text as xid`. */
  readonly columns: string;
  /** The FROM clause, the ledger as `m`, joins allowed. */
  readonly from: string;
  /** Conditions on the rows, with their parameters in `params` ($1 the tenant). */
  readonly where: readonly string[];
  readonly params: readonly unknown[];
  readonly limit: number;
}

/**
 * At most `read.limit` rows after `after` in commit order (oldest first),
 * only of transactions that have all ended, as `view` makes them, and the
 * position a poller continues after. The ledger's (tenant_id, xid, id)
 * index serves the order.
 */
export async function readLedgerAfter<Row extends { xid: string | number | bigint }, View extends { position: Position }>(
  tx: Tx,
  read: LedgerRead,
  after: Position,
  view: (row: Row) => View,
): Promise<{ views: View[]; last_position: Position }> {
  const params = [...read.params];
  const bind = binder(params);
  const where = [...read.where, committedAfter('m', bind(String(after.xid)), bind(String(after.id)), 'f.xmin')];
  const rows = await tx.queryDynamic<Row | { frontier: string; xid: null }>(
    belowFrontier(`select ${read.columns} from ${read.from} where ${where.join(' and ')} order by m.tenant_id, m.xid, m.id limit ${bind(read.limit)}`),
    params,
  );
  const views = rows.filter((row): row is Row => row.xid !== null).map(view);
  const frontier = (rows[0] as { frontier: string }).frontier;
  return { views, last_position: coveredTo(after, views.at(-1)?.position, views.length >= read.limit, frontier) };
}
