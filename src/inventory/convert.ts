/**
 * Domain views to protobuf messages. One function per message, so every RPC
 * renders an item or a movement the same way.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import { sealPosition, type Position } from '../db/position.js';
import { assert } from '../shared/errors.js';
import { timestampFromMicros, type Micros } from '../shared/time.js';
import {
  MovementType as MovementTypeMessage,
  type HoldExpirySchema,
  type ItemSchema,
  type MovementSchema,
  type ReservationLineSchema,
} from '../../gen/stockroom/inventory/v1/resources_pb.js';
import type { HoldExpiryView, ItemView, MovementType, MovementView, ReservationLineView } from './model.js';

/**
 * A view's time on the wire. Responses stored for idempotent replay before
 * migration 0008 (kept for the key retention) hold Dates and movements
 * without a position; a replay returns them as they were first returned.
 */
function wireTime(value: Micros | Date): Timestamp {
  return value instanceof Date ? timestampFromDate(value) : timestampFromMicros(value);
}

const TO_MESSAGE_TYPE: Record<MovementType, MovementTypeMessage> = {
  INBOUND: MovementTypeMessage.INBOUND,
  OUTBOUND: MovementTypeMessage.OUTBOUND,
  ADJUST: MovementTypeMessage.ADJUST,
  RETURN_IN: MovementTypeMessage.RETURN_IN,
  DAMAGED: MovementTypeMessage.DAMAGED,
};

/** Undefined for MOVEMENT_TYPE_UNSPECIFIED; null for a number the API does not define. */
export function movementTypeFromMessage(value: MovementTypeMessage): MovementType | undefined | null {
  if (value === MovementTypeMessage.UNSPECIFIED) return undefined;
  const entry = Object.entries(TO_MESSAGE_TYPE).find(([, number]) => number === value);
  return entry ? (entry[0] as MovementType) : null;
}

export function itemMessage(item: ItemView): MessageInitShape<typeof ItemSchema> {
  return {
    id: item.id,
    productId: item.product_id,
    sku: item.sku,
    name: item.name,
    onHand: item.on_hand,
    reserved: item.reserved,
    available: item.available,
    reorderPoint: item.reorder_point,
    needsReorder: item.needs_reorder,
    createTime: wireTime(item.created_at),
    updateTime: wireTime(item.updated_at),
  };
}

export function movementMessage(movement: MovementView): MessageInitShape<typeof MovementSchema> {
  const type = TO_MESSAGE_TYPE[movement.type];
  assert(type !== undefined, `movement type ${movement.type} has no protobuf value`);
  return {
    id: movement.id,
    itemId: movement.item_id,
    productId: movement.product_id,
    type,
    quantity: movement.quantity,
    onHandAfter: movement.on_hand_after,
    reference: movement.reference,
    notes: movement.notes,
    createdBy: movement.created_by,
    createTime: wireTime(movement.created_at),
    position: (movement.position as Position | undefined) === undefined ? '' : sealPosition(movement.position),
  };
}

export function reservationLineMessage(line: ReservationLineView): MessageInitShape<typeof ReservationLineSchema> {
  return {
    productId: line.product_id,
    itemId: line.item_id,
    held: line.held,
    committed: line.committed,
    released: line.released,
    createTime: wireTime(line.created_at),
    updateTime: wireTime(line.updated_at),
    expired: line.expired,
    expireTime: line.expires_at === null ? undefined : wireTime(line.expires_at),
    reference: line.reference ?? '',
  };
}

export function holdExpiryMessage(expiry: HoldExpiryView): MessageInitShape<typeof HoldExpirySchema> {
  return {
    productId: expiry.product_id,
    itemId: expiry.item_id,
    quantity: expiry.quantity,
    reason: expiry.reason,
    expireTime: wireTime(expiry.expire_time),
    createTime: wireTime(expiry.created_at),
  };
}
