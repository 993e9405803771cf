/**
 * Raw rows as pg returns them (bigint and timestamptz arrive as text) and
 * their conversion into domain views. The SQL column lists live here too, so
 * every statement selects an item or a movement the same way.
 */
import { assert } from '../shared/errors.js';
import { microsFromInstant } from '../shared/time.js';
import { itemView, MOVEMENT_TYPES, type ItemView, type MovementType, type MovementView, type ReservationLineView } from './model.js';

/** A number column as pg returns it (bigint and numeric come as text). */
export type Text = string | number | bigint;
type Instant = string | Date;

/** Columns of inventory_items (alias `i`) read into an ItemRow. */
export const ITEM_COLUMNS = `i.id, i.product_id, i.sku, i.name, i.on_hand, i.reserved, i.reorder_point, i.created_at, i.updated_at`;

export interface ItemRow {
  id: string;
  product_id: string;
  sku: string;
  name: string;
  on_hand: Text;
  reserved: Text;
  reorder_point: Text;
  created_at: Instant;
  updated_at: Instant;
}

export interface HoldRow {
  item_id: string;
  held: Text;
  committed: Text;
  released: Text;
  /** Absent from statements written before holds could expire: 0, never expires. */
  expired?: Text;
  expires_at?: Instant | null;
  line_created_at: Instant;
  line_updated_at: Instant;
}

/** A line with whether its expire time has passed (its held units are then expired). */
export type LapsedHoldRow = HoldRow & { lapsed: boolean };

export interface MovementRow {
  /** The internal sequence: the position's tie-breaker, never shown. */
  movement_id: Text;
  public_id: string;
  xid: Text;
  item_id: string;
  product_id: string;
  type: string;
  quantity: Text;
  on_hand_after: Text;
  reference: string;
  notes: string;
  created_by: string;
  movement_created_at: Instant;
}

export function toBigInt(value: Text): bigint {
  return typeof value === 'bigint' ? value : BigInt(value);
}

export function toItem(row: ItemRow): ItemView {
  return itemView({
    id: row.id,
    product_id: row.product_id,
    sku: row.sku,
    name: row.name,
    on_hand: toBigInt(row.on_hand),
    reserved: toBigInt(row.reserved),
    reorder_point: toBigInt(row.reorder_point),
    created_at: microsFromInstant(row.created_at),
    updated_at: microsFromInstant(row.updated_at),
  });
}

export function toLine(product_id: string, row: HoldRow): ReservationLineView {
  return {
    product_id,
    item_id: row.item_id,
    held: toBigInt(row.held),
    committed: toBigInt(row.committed),
    released: toBigInt(row.released),
    expired: toBigInt(row.expired ?? 0),
    expires_at: row.expires_at === null || row.expires_at === undefined ? null : microsFromInstant(row.expires_at),
    created_at: microsFromInstant(row.line_created_at),
    updated_at: microsFromInstant(row.line_updated_at),
  };
}

export function toMovementType(text: string): MovementType {
  assert((MOVEMENT_TYPES as readonly string[]).includes(text), `unknown movement type ${text} in the ledger`);
  return text as MovementType;
}

export function toMovement(row: MovementRow): MovementView {
  return {
    id: row.public_id,
    position: { xid: toBigInt(row.xid), id: toBigInt(row.movement_id) },
    item_id: row.item_id,
    product_id: row.product_id,
    type: toMovementType(row.type),
    quantity: toBigInt(row.quantity),
    on_hand_after: toBigInt(row.on_hand_after),
    reference: row.reference,
    notes: row.notes,
    created_by: row.created_by,
    created_at: microsFromInstant(row.movement_created_at),
  };
}
