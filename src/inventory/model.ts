/**
 * The inventory context's own vocabulary, free of protobuf and SQL: what the
 * domain takes and returns. Quantities are whole units as bigint, so sums
 * never lose precision; times are microseconds since the epoch; results are plain data, so an idempotent replay can
 * store and return them unchanged.
 */

import type { Position } from '../db/position.js';
import type { Micros } from '../shared/time.js';

export const MOVEMENT_TYPES = ['INBOUND', 'OUTBOUND', 'ADJUST', 'RETURN_IN', 'DAMAGED'] as const;
export type MovementType = (typeof MOVEMENT_TYPES)[number];

/** Stock of one product, as the caller sees it. */
export interface ItemView {
  readonly id: string;
  readonly product_id: string;
  readonly sku: string;
  readonly name: string;
  readonly on_hand: bigint;
  readonly reserved: bigint;
  /** on_hand - reserved. */
  readonly available: bigint;
  readonly reorder_point: bigint;
  /** available <= reorder_point. */
  readonly needs_reorder: boolean;
  readonly created_at: Micros;
  readonly updated_at: Micros;
}

/** One ledger entry; `quantity` is the signed change of on_hand. */
export interface MovementView {
  /** The public id (UUIDv7, migration 0008b), never the internal sequence. */
  readonly id: string;
  /** Where it lies in commit order (migration 0008). */
  readonly position: Position;
  readonly item_id: string;
  readonly product_id: string;
  readonly type: MovementType;
  readonly quantity: bigint;
  readonly on_hand_after: bigint;
  readonly reference: string;
  readonly notes: string;
  readonly created_by: string;
  readonly created_at: Micros;
}

/** What one order reference holds, has committed and has released of one product. */
export interface ReservationLineView {
  readonly product_id: string;
  readonly item_id: string;
  readonly held: bigint;
  readonly committed: bigint;
  readonly released: bigint;
  /** Units that expired before being committed or released (cumulative). */
  readonly expired: bigint;
  /** When the units still held expire; null: never. */
  readonly expires_at: Micros | null;
  readonly created_at: Micros;
  readonly updated_at: Micros;
  /** Set where lines of several references are listed together. */
  readonly reference?: string;
}

/** The release of an expired hold, as the sweeper recorded it. */
export interface HoldExpiryView {
  readonly product_id: string;
  readonly item_id: string;
  readonly quantity: bigint;
  readonly reason: 'EXPIRED';
  readonly expire_time: Micros;
  readonly created_at: Micros;
}

/** A product and a number of units, as a request names them. */
export interface OrderLine {
  readonly product_id: string;
  readonly quantity: bigint;
}

/** Result of Reserve, Release and CommitOutbound: the touched lines and balances, in request order. */
export interface OrderResult {
  readonly reference: string;
  readonly lines: readonly ReservationLineView[];
  readonly items: readonly ItemView[];
  /** OUTBOUND movements (CommitOutbound only). */
  readonly movements: readonly MovementView[];
}

export interface AvailabilityLine {
  readonly product_id: string;
  readonly requested: bigint;
  readonly available: bigint;
  readonly sufficient: boolean;
}

export interface AvailabilityResult {
  readonly available: boolean;
  readonly lines: readonly AvailabilityLine[];
}

/** Result of a single-product stock change (inbound, adjust, return, damage). */
export interface StockChangeResult {
  readonly item: ItemView;
  readonly movement: MovementView;
}

export interface Page<T> {
  readonly rows: readonly T[];
  /** Empty on the last page. */
  readonly next_page_token: string;
}

export function itemView(row: {
  id: string;
  product_id: string;
  sku: string;
  name: string;
  on_hand: bigint;
  reserved: bigint;
  reorder_point: bigint;
  created_at: Micros;
  updated_at: Micros;
}): ItemView {
  const available = row.on_hand - row.reserved;
  return {
    id: row.id,
    product_id: row.product_id,
    sku: row.sku,
    name: row.name,
    on_hand: row.on_hand,
    reserved: row.reserved,
    available,
    reorder_point: row.reorder_point,
    needs_reorder: available <= row.reorder_point,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}
