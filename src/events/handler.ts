/**
 * EventService over Connect/gRPC: checks requests, calls the feed, renders
 * events. No SQL here.
 */
import { timestampNow } from '@bufbuild/protobuf/wkt';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { EventService, type EventType as EventTypeMessage } from '../../gen/stockroom/events/v1/events_service_pb.js';
import { RequestCheck } from '../shared/request-check.js';
import { callContext } from '../server/context.js';
import { eventMessage, eventTypeName } from './convert.js';
import type { EventFeed, StreamStart } from './feed.js';
import { LIMITS, type EventFilter, type EventType } from './model.js';
import { formatPosition, parsePosition } from '../db/position.js';

type Impl = ServiceImpl<typeof EventService>;

interface FilterFields {
  types: EventTypeMessage[];
  productIds: string[];
  partIds: string[];
}

function filterOf(checks: RequestCheck, request: FilterFields): EventFilter {
  const types: EventType[] = [];
  if (request.types.length > LIMITS.filter_types_max) checks.fail('types', `must have at most ${LIMITS.filter_types_max} entries, got ${request.types.length}`);
  request.types.forEach((value, index) => {
    const name = eventTypeName(value);
    if (name === undefined) checks.fail(`types[${index}]`, `must be a known event type, got ${value}`);
    else if (!types.includes(name)) types.push(name);
  });
  for (const [field, list] of [['product_ids', request.productIds], ['part_ids', request.partIds]] as const) {
    if (list.length > LIMITS.filter_ids_max) checks.fail(field, `must have at most ${LIMITS.filter_ids_max} entries, got ${list.length}`);
  }
  const product_ids = request.productIds.map((id, index) => checks.text(`product_ids[${index}]`, id, { min: 1, max: LIMITS.product_id_length_max }));
  const part_ids = request.partIds.map((id, index) => checks.id(`part_ids[${index}]`, id));
  return { types, product_ids, part_ids };
}


export function eventHandler(feed: EventFeed): Impl {
  return {
    async listEvents(request, context: HandlerContext) {
      const checks = new RequestCheck();
      const filter = filterOf(checks, request);
      const size = checks.pageSize('page_size', request.pageSize, { default_size: LIMITS.page_size_default, max_size: LIMITS.page_size_max });
      checks.done();
      const after = request.afterPosition === '' ? undefined : parsePosition('after_position', request.afterPosition);
      const page = await feed.list(callContext(context), filter, after, { size, token: request.pageToken });
      return { events: page.events.map(eventMessage), nextPageToken: page.next_page_token, lastPosition: formatPosition(page.last_position) };
    },

    async *watchEvents(request, context: HandlerContext) {
      const checks = new RequestCheck();
      const filter = filterOf(checks, request);
      if (request.fromOldest && request.afterPosition !== '') checks.fail('from_oldest', 'cannot be combined with after_position');
      checks.done();
      const start: StreamStart =
        request.afterPosition !== '' ? parsePosition('after_position', request.afterPosition) : request.fromOldest ? 'oldest' : 'now';
      for await (const item of feed.watch(callContext(context), filter, start)) {
        if (item.kind === 'event') yield { kind: { case: 'event', value: eventMessage(item.event) } };
        else yield { kind: { case: 'heartbeat', value: { position: formatPosition(item.position), time: timestampNow() } } };
      }
    },
  };
}
