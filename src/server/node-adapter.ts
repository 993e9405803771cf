/**
 * connect-node's request handler (what connectNodeAdapter builds), with its
 * one failure path logged through our logger. connectNodeAdapter writes a
 * response it could not deliver with console.error: a bare line in a JSON
 * log, and most often not a fault of the server at all but a client that
 * left mid-stream (ERR_STREAM_DESTROYED while a WatchEvents stream writes).
 */
import type * as http from 'node:http';
import type * as http2 from 'node:http2';
import { Code, ConnectError, createConnectRouter, type ConnectRouter, type ConnectRouterOptions } from '@connectrpc/connect';
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from '@connectrpc/connect-node';
import type { Logger } from 'pino';

export type NodeHandler = (request: http.IncomingMessage | http2.Http2ServerRequest, response: http.ServerResponse | http2.Http2ServerResponse) => void;

export interface NodeAdapterOptions extends ConnectRouterOptions {
  routes(router: ConnectRouter): void;
}

export function nodeAdapter(options: NodeAdapterOptions, logger: Logger): NodeHandler {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const handlers = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));
  return (request, response) => {
    const handler = handlers.get(request.url?.split('?', 2)[0] ?? '');
    if (handler === undefined) {
      response.writeHead(404);
      response.end();
      return;
    }
    handler(universalRequestFromNodeRequest(request, response, undefined, undefined))
      .then((universal) => universalResponseToNodeResponse(universal, response))
      .catch((reason: unknown) => {
        // The call was cancelled (deadline, client or shutdown): its rpc line says so already.
        if (ConnectError.from(reason).code === Code.Aborted) return;
        const rpc = `${handler.service.typeName}/${handler.method.name}`;
        if (clientGone(response)) logger.debug({ rpc, err: reason }, 'the client left before the response was written');
        else logger.error({ rpc, err: reason }, 'the response could not be written');
      });
  };
}

function clientGone(response: http.ServerResponse | http2.Http2ServerResponse): boolean {
  return 'stream' in response ? response.stream.destroyed : response.destroyed;
}
