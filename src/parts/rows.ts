/**
 * How parts rows come out of PostgreSQL and become views. NUMERIC and bigint
 * arrive as strings (pg's defaults) and become Decimal and bigint here, never
 * floats; timestamps are selected as microseconds so none is cut to the
 * millisecond of a JavaScript Date.
 */
import { Decimal } from '../shared/decimal.js';
import { fromMicros, micros, toMicros } from '../shared/time.js';
import type { BatchView, MovementType, MovementView, WorkOrderLineView } from './model.js';

export { fromMicros, micros, toMicros };

export interface BatchRow {
  id: string;
  part_id: string;
  location_id: string;
  qty_on_hand: string;
  qty_received: string;
  unit_cost: string;
  received_us: string;
  receipt_id: string;
  source_batch_id: string | null;
  created_us: string;
}

export function batchColumns(alias: string): string {
  return `${alias}.id, ${alias}.part_id, ${alias}.location_id, ${alias}.qty_on_hand, ${alias}.qty_received, ${alias}.unit_cost,
    ${micros(`${alias}.received_at`)} as received_us, ${alias}.receipt_id, ${alias}.source_batch_id, ${micros(`${alias}.created_at`)} as created_us`;
}

export function toBatch(row: BatchRow): BatchView {
  return {
    id: row.id,
    part_id: row.part_id,
    location_id: row.location_id,
    qty_on_hand: new Decimal(row.qty_on_hand),
    qty_received: new Decimal(row.qty_received),
    unit_cost: new Decimal(row.unit_cost),
    received_at: toMicros(row.received_us),
    receipt_id: row.receipt_id,
    source_batch_id: row.source_batch_id,
    created_at: toMicros(row.created_us),
  };
}

export interface MovementRow {
  /** The public id (UUIDv7). */
  id: string;
  /** The internal sequence: page cursor and the position's tie-breaker, never shown. */
  seq: string;
  xid: string;
  type: MovementType;
  part_id: string;
  part_number: string;
  batch_id: string;
  location_id: string;
  from_location_id: string | null;
  to_location_id: string | null;
  qty_delta: string;
  unit_cost: string;
  work_order_id: string | null;
  receipt_id: string;
  reason: string;
  created_by: string;
  created_us: string;
}

/** Columns of part_movements `m` joined to parts `p`. */
export const MOVEMENT_COLUMNS = `m.public_id::text as id, m.id::text as seq, m.xid::text as xid, m.type, m.part_id, p.part_number, m.batch_id, m.location_id, m.from_location_id,
  m.to_location_id, m.qty_delta, m.unit_cost, m.work_order_id, m.receipt_id, m.reason, m.created_by, ${micros('m.created_at')} as created_us`;

export function toMovement(row: MovementRow): MovementView {
  return {
    id: row.id,
    position: { xid: BigInt(row.xid), id: BigInt(row.seq) },
    type: row.type,
    part_id: row.part_id,
    part_number: row.part_number,
    batch_id: row.batch_id,
    location_id: row.location_id,
    from_location_id: row.from_location_id,
    to_location_id: row.to_location_id,
    qty_delta: new Decimal(row.qty_delta),
    unit_cost: new Decimal(row.unit_cost),
    work_order_id: row.work_order_id,
    receipt_id: row.receipt_id,
    reason: row.reason,
    created_by: row.created_by,
    created_at: toMicros(row.created_us),
  };
}

export interface LineRow {
  /** The public id (UUIDv7). */
  id: string;
  /** The internal sequence: the page cursor, never shown. */
  seq: string;
  work_order_id: string;
  part_id: string;
  part_number: string;
  location_id: string;
  batch_id: string;
  qty_used: string;
  unit_cost_snapshot: string;
  total_cost: string;
  movement_id: string;
  created_us: string;
}

/** Columns of work_order_lines `w` joined to parts `p`. */
export const LINE_COLUMNS = `w.public_id::text as id, w.id::text as seq, w.work_order_id, w.part_id, p.part_number, w.location_id, w.batch_id,
  w.qty_used, w.unit_cost_snapshot, w.total_cost,
  (select m.public_id::text from part_movements m where m.tenant_id = w.tenant_id and m.id = w.movement_id) as movement_id,
  ${micros('w.created_at')} as created_us`;

export function toLine(row: LineRow): WorkOrderLineView {
  return {
    id: row.id,
    work_order_id: row.work_order_id,
    part_id: row.part_id,
    part_number: row.part_number,
    location_id: row.location_id,
    batch_id: row.batch_id,
    qty_used: new Decimal(row.qty_used),
    unit_cost_snapshot: new Decimal(row.unit_cost_snapshot),
    total_cost: new Decimal(row.total_cost),
    movement_id: row.movement_id,
    created_at: toMicros(row.created_us),
  };
}
