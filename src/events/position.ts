/**
 * The commit-ordered reader position of the outbox (migration 0007): the
 * writing transaction's id (xid8) and the event's sequence number. Readers
 * order by (xid, id) and return only rows whose xid is below their
 * snapshot's xmin (every transaction below it has ended), so a position
 * only ever grows and nothing that commits later can sort before it.
 *
 * On the wire a position is the string `<xid>-<id>`; clients treat it as opaque.
 */
import { InvalidArgumentError } from '../shared/errors.js';

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

/**
 * SQL: the snapshot's xmin, the frontier of the commit-ordered read: every
 * transaction with a smaller xid has ended, so its events are all visible.
 */
export const SNAPSHOT_XMIN = 'pg_snapshot_xmin(pg_current_snapshot())';

/**
 * SQL condition: row `alias` lies after ($after_xid, $after_id) and below
 * the frontier `frontier` (an xid8 expression).
 */
export function committedAfter(alias: string, after_xid: string, after_id: string, frontier: string): string {
  return `(${alias}.xid, ${alias}.id) > (${after_xid}::xid8, ${after_id}::bigint) and ${alias}.xid < ${frontier}`;
}
