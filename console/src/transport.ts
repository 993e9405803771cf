/**
 * One Connect transport for both services, on the page's own origin, with
 * the signed-in user's token on every call.
 */
import { createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { InventoryService } from '../../gen/stockroom/inventory/v1/inventory_service_pb.js';
import { EventService } from '../../gen/stockroom/events/v1/events_service_pb.js';
import { PartsService } from '../../gen/stockroom/parts/v1/parts_service_pb.js';
import { currentToken } from './session.js';

const bearer: Interceptor = (next) => (request) => {
  const token = currentToken();
  if (token) request.header.set('authorization', `Bearer ${token}`);
  return next(request);
};

export const transport = createConnectTransport({
  baseUrl: window.location.origin,
  // Binary is smaller and the same bytes grpc-js clients send.
  useBinaryFormat: true,
  interceptors: [bearer],
  // A call that takes longer than this is stuck; the page shows its error.
  defaultTimeoutMs: 30_000,
});

/** Clients for writes (forms); reads go through Connect-Query so they cache, refresh and page. */
export const inventoryClient = createClient(InventoryService, transport);
export const partsClient = createClient(PartsService, transport);
export const eventsClient = createClient(EventService, transport);
