/** Events between the domain and protobuf. */
import { create } from '@bufbuild/protobuf';
import { EventSchema, EventType as EventTypeMessage, type Event } from '../../gen/stockroom/events/v1/events_service_pb.js';
import { Decimal } from '../shared/decimal.js';
import { timestampFromMicros } from '../shared/time.js';
import { EVENT_TYPES, type EventType, type EventView } from './model.js';
import { formatPosition } from '../db/position.js';

export function eventTypeName(value: EventTypeMessage): EventType | undefined {
  const name = EventTypeMessage[value];
  return typeof name === 'string' && (EVENT_TYPES as readonly string[]).includes(name) ? (name as EventType) : undefined;
}

function available(event: EventView): string {
  if (event.on_hand === null) return '';
  // At the scale on_hand is stored with (whole units for inventory, 3 places for parts).
  const scale = event.on_hand.split('.')[1]?.length ?? 0;
  return new Decimal(event.on_hand).minus(event.reserved ?? '0').toFixed(scale);
}

export function eventMessage(event: EventView): Event {
  return create(EventSchema, {
    id: event.event_id,
    position: formatPosition(event.position),
    type: EventTypeMessage[event.type],
    tenantId: event.tenant_id,
    productId: event.product_id ?? '',
    itemId: event.item_id ?? '',
    partId: event.part_id ?? '',
    locationId: event.location_id ?? '',
    reference: event.reference,
    quantity: event.quantity ?? '',
    onHand: event.on_hand ?? '',
    reserved: event.reserved ?? '',
    available: available(event),
    reorderPoint: event.reorder_point ?? '',
    movementIds: [...event.movement_ids],
    caller: event.caller,
    createTime: timestampFromMicros(event.created_us),
  });
}
