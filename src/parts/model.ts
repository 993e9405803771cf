/**
 * The parts context's own vocabulary, free of protobuf and SQL: what the
 * domain takes and returns. Quantities and costs are decimal.js values
 * (never floats); stock times are microseconds since the epoch as bigint,
 * the precision PostgreSQL keeps, so a layer's received date survives a
 * transfer and a page token exactly. Results are plain data, so an
 * idempotent replay can store and return them unchanged.
 */
import type { DecimalValue } from '../shared/decimal.js';

/** Microseconds since 1970-01-01T00:00:00Z. */
import type { Position } from '../db/position.js';
import type { Micros } from '../shared/request-check.js';
export type { Micros };

export const MOVEMENT_TYPES = ['RECEIVE', 'ISSUE', 'RETURN', 'TRANSFER_OUT', 'TRANSFER_IN', 'ADJUSTMENT', 'RTV_OUT', 'COUNT_ADJUST'] as const;
export type MovementType = (typeof MOVEMENT_TYPES)[number];

/** Scales of the stored columns: NUMERIC(18,3), NUMERIC(18,4), and their product. */
export const QTY_SCALE = 3;
export const COST_SCALE = 4;
export const TOTAL_SCALE = 7;

export interface PartView {
  readonly id: string;
  readonly part_number: string;
  readonly name: string;
  readonly description: string;
  readonly make: string;
  readonly category: string;
  readonly component: string;
  /** Null until the part was received or priced. */
  readonly last_price: DecimalValue | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

/** The catalog fields of a part, as a create or update names them. */
export interface PartFields {
  readonly part_number: string;
  readonly name: string;
  readonly description: string;
  readonly make: string;
  readonly category: string;
  readonly component: string;
  readonly last_price: DecimalValue | null;
}

export interface LocationView {
  readonly id: string;
  readonly site: string;
  readonly name: string;
  readonly description: string;
  readonly created_at: Date;
  readonly updated_at: Date;
}

export interface LocationFields {
  readonly site: string;
  readonly name: string;
  readonly description: string;
}

export interface BatchView {
  readonly id: string;
  readonly part_id: string;
  readonly location_id: string;
  readonly qty_on_hand: DecimalValue;
  readonly qty_received: DecimalValue;
  readonly unit_cost: DecimalValue;
  readonly received_at: Micros;
  readonly receipt_id: string;
  readonly source_batch_id: string | null;
  readonly created_at: Micros;
  /** ListBatches only: the location's units of the part held for work orders (holds sit at the balance). */
  readonly location_qty_reserved?: DecimalValue;
  /** ListBatches only: the location's free units of the part (on hand - reserved). */
  readonly location_qty_available?: DecimalValue;
}

export interface MovementView {
  /** The public id (UUIDv7, migration 0008b), never the internal sequence. */
  readonly id: string;
  /** Where it lies in commit order (migration 0008). */
  readonly position: Position;
  readonly type: MovementType;
  readonly part_id: string;
  readonly part_number: string;
  readonly batch_id: string;
  readonly location_id: string;
  readonly from_location_id: string | null;
  readonly to_location_id: string | null;
  readonly qty_delta: DecimalValue;
  readonly unit_cost: DecimalValue;
  readonly work_order_id: string | null;
  readonly receipt_id: string;
  readonly reason: string;
  readonly created_by: string;
  readonly created_at: Micros;
}

export interface WorkOrderLineView {
  readonly id: string;
  readonly work_order_id: string;
  readonly part_id: string;
  readonly part_number: string;
  readonly location_id: string;
  readonly batch_id: string;
  /** Positive for an issue, negative for a return. */
  readonly qty_used: DecimalValue;
  readonly unit_cost_snapshot: DecimalValue;
  readonly total_cost: DecimalValue;
  readonly movement_id: string;
  readonly created_at: Micros;
}

/** What one operation took from or put into one layer; qty is always positive. */
export interface Allocation {
  readonly batch_id: string;
  readonly qty: DecimalValue;
  readonly unit_cost: DecimalValue;
  readonly total_cost: DecimalValue;
  readonly received_at: Micros;
  /** Transfers: the new layer at the destination. */
  readonly destination_batch_id?: string;
}

/** What every stock operation reports. */
export interface StockResult {
  readonly allocations: readonly Allocation[];
  readonly movement_ids: readonly string[];
  readonly work_order_line_ids: readonly string[];
  readonly message: string;
  /** Sum of the allocations' total_cost. */
  readonly total_cost: DecimalValue;
  /** The location's quantity after the operation (the source's, for a transfer). */
  readonly qty_on_hand_after: DecimalValue;
}

export interface ReceiveResult extends StockResult {
  readonly batch: BatchView;
}

export interface TransferResult extends StockResult {
  readonly to_qty_on_hand_after: DecimalValue;
}

export interface CountResult extends StockResult {
  readonly previous_qty: DecimalValue;
  readonly qty_delta: DecimalValue;
}

export interface ReceiveInput {
  readonly part_id: string;
  readonly location_id: string;
  readonly qty: DecimalValue;
  readonly unit_cost: DecimalValue;
  /** Null means now. */
  readonly received_at: Micros | null;
  readonly receipt_id: string;
}

export interface WorkOrderInput {
  readonly work_order_id: string;
  readonly part_id: string;
  readonly location_id: string;
  readonly qty: DecimalValue;
}

export interface TransferInput {
  readonly part_id: string;
  readonly from_location_id: string;
  readonly to_location_id: string;
  readonly qty: DecimalValue;
}

export interface AdjustInput {
  readonly part_id: string;
  readonly location_id: string;
  /** Not zero. */
  readonly qty_delta: DecimalValue;
  readonly reason: string;
  /** For a positive delta; null means the part's last price. */
  readonly unit_cost: DecimalValue | null;
}

export interface CountInput {
  readonly part_id: string;
  readonly location_id: string;
  readonly counted_qty: DecimalValue;
  readonly reason: string;
  readonly unit_cost: DecimalValue | null;
}

export interface VendorReturnInput {
  readonly part_id: string;
  readonly location_id: string;
  readonly qty: DecimalValue;
  /** Null means oldest layers first. */
  readonly batch_id: string | null;
  readonly receipt_id: string;
  readonly reason: string;
}

/** A page of a list and the token for the next one ('' on the last page). */
export interface Page<T> {
  readonly items: readonly T[];
  readonly next_page_token: string;
}

export interface PageRequest {
  readonly page_size: number;
  readonly page_token: string;
}
