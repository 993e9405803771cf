/**
 * The errors that never reach an interceptor. Connect decodes the request,
 * checks its size and parses its deadline before the interceptors run, and
 * answers what fails there on its own: INTERNAL "parse binary: …" for a
 * malformed protobuf, no ErrorInfo, no log line.
 *
 * Connect's request gate runs for every call before the body is read, with
 * the call's HandlerContext. Whatever error ends a call, Connect first aborts
 * that context's signal with it and only then serializes it (unary and
 * streaming, all three protocols). Listening there, the boundary completes
 * the error in place (src/server/errors.ts completeProtocolError) and writes
 * the call's one log line if the logging interceptor never saw the call.
 */
import { ConnectError, type HandlerContext } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { completeProtocolError, errorDomain } from './errors.js';
import { logRpc, RPC_LOGGED_KEY } from './interceptors.js';

export function errorBoundary(logger: Logger): (context: HandlerContext) => void {
  return (context) => {
    const started = performance.now();
    const ended = () => {
      const reason: unknown = context.signal.reason;
      // A call that ends well aborts with a plain AbortError: nothing to do.
      if (!(reason instanceof ConnectError)) return;
      // An exception in an abort listener would be an uncaught exception of
      // the process; this one must never throw.
      try {
        completeProtocolError(reason, errorDomain(context.service.typeName));
        if (context.values.get(RPC_LOGGED_KEY)) return;
        const method = `${context.service.typeName}/${context.method.name}`;
        logRpc(logger, { method, header: context.requestHeader, contextValues: context.values }, started, reason);
      } catch (error) {
        logger.error({ err: error }, 'error boundary failed');
      }
    };
    context.signal.addEventListener('abort', ended, { once: true });
  };
}
