/**
 * Domain results to protobuf messages. Quantities, costs and totals leave as
 * decimal strings with their column's exact scale (3, 4, 7 places); stock
 * times as Timestamps to the microsecond.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { sealPosition } from '../db/position.js';
import { timestampFromMicros } from '../shared/time.js';
import { formatDecimal, type DecimalValue } from '../shared/decimal.js';
import {
  AllocationSchema,
  BatchSchema,
  LocationSchema,
  MovementSchema,
  MovementType as ProtoMovementType,
  PartSchema,
  WorkOrderHoldSchema,
  WorkOrderLineSchema,
} from '../../gen/stockroom/parts/v1/resources_pb.js';
import {
  COST_SCALE,
  MOVEMENT_TYPES,
  QTY_SCALE,
  TOTAL_SCALE,
  type Allocation,
  type BatchView,
  type LocationView,
  type MovementType,
  type MovementView,
  type PartView,
  type StockResult,
  type WorkOrderLineView,
} from './model.js';
import type { WorkOrderHoldView } from './work-order-holds.js';

export const qty = (value: DecimalValue) => formatDecimal(value, QTY_SCALE);
export const cost = (value: DecimalValue) => formatDecimal(value, COST_SCALE);
export const total = (value: DecimalValue) => formatDecimal(value, TOTAL_SCALE);

/** Domain and proto movement types share names: RECEIVE ↔ MOVEMENT_TYPE_RECEIVE. */
export function movementTypeToProto(type: MovementType): ProtoMovementType {
  return ProtoMovementType[type];
}

export function movementTypeFromProto(type: ProtoMovementType): MovementType | undefined {
  const name = ProtoMovementType[type] as string | undefined;
  return MOVEMENT_TYPES.find((known) => known === name);
}

export function partMessage(part: PartView): MessageInitShape<typeof PartSchema> {
  return {
    id: part.id,
    partNumber: part.part_number,
    name: part.name,
    description: part.description,
    make: part.make,
    category: part.category,
    component: part.component,
    lastPrice: part.last_price === null ? '' : cost(part.last_price),
    createTime: timestampFromDate(part.created_at),
    updateTime: timestampFromDate(part.updated_at),
  };
}

export function locationMessage(location: LocationView): MessageInitShape<typeof LocationSchema> {
  return {
    id: location.id,
    site: location.site,
    name: location.name,
    description: location.description,
    createTime: timestampFromDate(location.created_at),
    updateTime: timestampFromDate(location.updated_at),
  };
}

export function workOrderHoldMessage(hold: WorkOrderHoldView): MessageInitShape<typeof WorkOrderHoldSchema> {
  return {
    workOrderId: hold.work_order_id,
    partId: hold.part_id,
    partNumber: hold.part_number,
    locationId: hold.location_id,
    qtyHeld: qty(hold.qty_held),
    qtyIssued: qty(hold.qty_issued),
    qtyReleased: qty(hold.qty_released),
    qtyExpired: qty(hold.qty_expired),
    expireTime: hold.expires_at === null ? undefined : timestampFromMicros(hold.expires_at),
    createTime: timestampFromMicros(hold.created_at),
    updateTime: timestampFromMicros(hold.updated_at),
  };
}

export function batchMessage(batch: BatchView): MessageInitShape<typeof BatchSchema> {
  return {
    id: batch.id,
    partId: batch.part_id,
    locationId: batch.location_id,
    qtyOnHand: qty(batch.qty_on_hand),
    qtyReceived: qty(batch.qty_received),
    unitCost: cost(batch.unit_cost),
    receivedDate: timestampFromMicros(batch.received_at),
    receiptId: batch.receipt_id,
    sourceBatchId: batch.source_batch_id ?? '',
    value: total(batch.qty_on_hand.mul(batch.unit_cost)),
    createTime: timestampFromMicros(batch.created_at),
    locationQtyReserved: batch.location_qty_reserved === undefined ? '' : qty(batch.location_qty_reserved),
    locationQtyAvailable: batch.location_qty_available === undefined ? '' : qty(batch.location_qty_available),
  };
}

export function movementMessage(movement: MovementView): MessageInitShape<typeof MovementSchema> {
  return {
    id: movement.id,
    type: movementTypeToProto(movement.type),
    partId: movement.part_id,
    partNumber: movement.part_number,
    batchId: movement.batch_id,
    locationId: movement.location_id,
    fromLocationId: movement.from_location_id ?? '',
    toLocationId: movement.to_location_id ?? '',
    qtyDelta: qty(movement.qty_delta),
    unitCost: cost(movement.unit_cost),
    totalCost: total(movement.qty_delta.mul(movement.unit_cost)),
    workOrderId: movement.work_order_id ?? '',
    receiptId: movement.receipt_id,
    reason: movement.reason,
    createdBy: movement.created_by,
    createTime: timestampFromMicros(movement.created_at),
    position: sealPosition(movement.position),
  };
}

export function lineMessage(line: WorkOrderLineView): MessageInitShape<typeof WorkOrderLineSchema> {
  return {
    id: line.id,
    workOrderId: line.work_order_id,
    partId: line.part_id,
    partNumber: line.part_number,
    locationId: line.location_id,
    batchId: line.batch_id,
    qtyUsed: qty(line.qty_used),
    unitCostSnapshot: cost(line.unit_cost_snapshot),
    totalCost: total(line.total_cost),
    movementId: line.movement_id,
    createTime: timestampFromMicros(line.created_at),
  };
}

export function allocationMessage(allocation: Allocation): MessageInitShape<typeof AllocationSchema> {
  return {
    batchId: allocation.batch_id,
    qty: qty(allocation.qty),
    unitCost: cost(allocation.unit_cost),
    totalCost: total(allocation.total_cost),
    destinationBatchId: allocation.destination_batch_id ?? '',
    receivedDate: timestampFromMicros(allocation.received_at),
  };
}

/** The fields every stock operation's response shares. */
export function stockResultFields(result: StockResult) {
  return {
    allocations: result.allocations.map(allocationMessage),
    movementIds: [...result.movement_ids],
    workOrderLineIds: [...result.work_order_line_ids],
    message: result.message,
    totalCost: total(result.total_cost),
    qtyOnHandAfter: qty(result.qty_on_hand_after),
  };
}
