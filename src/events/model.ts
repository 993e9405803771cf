/** The outbox's events as the domain sees them (see migration 0007). */
import type { Position } from '../db/position.js';

export const EVENT_TYPES = [
  'ITEM_CREATED', 'ITEM_UPDATED',
  'STOCK_RECEIVED', 'STOCK_ADJUSTED', 'STOCK_RETURNED', 'STOCK_DAMAGED',
  'RESERVATION_CREATED', 'RESERVATION_RELEASED', 'RESERVATION_COMMITTED', 'RESERVATION_EXPIRED',
  'PART_CREATED', 'PART_UPDATED', 'PART_DELETED', 'LOCATION_CREATED', 'LOCATION_UPDATED',
  'PARTS_RECEIVED', 'PARTS_ISSUED', 'PARTS_RETURNED', 'PARTS_TRANSFERRED_OUT', 'PARTS_TRANSFERRED_IN',
  'PARTS_ADJUSTED', 'PARTS_COUNTED', 'PARTS_RETURNED_TO_VENDOR',
  'LOW_STOCK', 'OUT_OF_STOCK', 'BACK_IN_STOCK',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Which events a reader wants; empty lists match everything. */
export interface EventFilter {
  readonly types: readonly EventType[];
  readonly product_ids: readonly string[];
  readonly part_ids: readonly string[];
}

export interface EventView {
  readonly event_id: string;
  readonly position: Position;
  readonly type: EventType;
  readonly tenant_id: string;
  readonly product_id: string | null;
  readonly item_id: string | null;
  readonly part_id: string | null;
  readonly location_id: string | null;
  readonly reference: string;
  /** Decimal strings, as stored (NUMERIC). */
  readonly quantity: string | null;
  readonly on_hand: string | null;
  readonly reserved: string | null;
  readonly reorder_point: string | null;
  readonly movement_ids: readonly string[];
  readonly caller: string;
  /** Microseconds since the epoch. */
  readonly created_us: bigint;
}

/** What one commit-ordered read returns. */
export interface EventBatch {
  readonly events: EventView[];
  /**
   * Every matching event up to here has been returned when the batch is not
   * full: the last event's position, or the frontier if that is later.
   */
  readonly covered: Position;
}

export const LIMITS = {
  page_size_default: 100,
  page_size_max: 1_000,
  filter_ids_max: 100,
  filter_types_max: 50,
  product_id_length_max: 128,
} as const;
