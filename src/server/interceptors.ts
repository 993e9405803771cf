/**
 * Cross-cutting work around every RPC, outermost first:
 *   logging → error mapping → strict decoding (unknown fields) → admission
 *   (shutdown) → authentication/authorization.
 * Errors Connect raises before these run are completed and logged by the
 * error boundary (error-boundary.ts).
 */
import { Code, ConnectError, createContextKey, type ContextValues, type Interceptor, type StreamResponse, type UnaryResponse } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { PermissionDeniedError, UnavailableError } from '../shared/errors.js';
import type { TokenVerifier } from './auth.js';
import { CALLER_KEY } from './context.js';
import { errorDomain, errorInfo, toConnectError, type DetailMapper } from './errors.js';
import { METHOD_ROLES, REFLECTION_METHODS, satisfies, type Requirement } from './permissions.js';

/**
 * Calls `finished` when a call is really over: for unary calls when the
 * response exists, for streaming calls when the response stream ends.
 */
function whenFinished<R extends UnaryResponse | StreamResponse>(response: R, finished: (error?: unknown) => void): R {
  if (!response.stream) {
    finished();
    return response;
  }
  const messages = response.message;
  async function* tracked() {
    try {
      yield* messages;
      finished();
    } catch (error) {
      finished(error);
      throw error;
    }
  }
  return { ...response, message: tracked() };
}

export function methodName(request: { service: { typeName: string }; method: { name: string } }): string {
  return `${request.service.typeName}/${request.method.name}`;
}

/** Marks a call whose log line the logging interceptor writes (see error-boundary.ts). */
export const RPC_LOGGED_KEY = createContextKey(false, { description: 'rpc log line written by the logging interceptor' });

interface LoggedCall {
  readonly method: string;
  readonly header: Headers;
  readonly contextValues: ContextValues;
}

/** The one log line of an RPC: method, code, reason, duration, caller; never message bodies. */
export function logRpc(logger: Logger, call: LoggedCall, started_ms: number, error?: unknown): void {
  const caller = call.contextValues.get(CALLER_KEY);
  const fields = {
    method: call.method,
    protocol: call.header.get('content-type')?.split(';')[0],
    duration_ms: Math.round((performance.now() - started_ms) * 100) / 100,
    tenant: caller?.tenant_id,
    subject: caller?.subject,
  };
  if (error === undefined) {
    logger.info({ ...fields, code: 'OK' }, 'rpc');
    return;
  }
  const connect_error = ConnectError.from(error);
  const level = connect_error.code === Code.Internal || connect_error.code === Code.Unknown ? 'error' : 'info';
  logger[level]({ ...fields, code: Code[connect_error.code], reason: reasonOf(connect_error) }, 'rpc');
}

/** One log line per RPC that reaches the interceptors. */
export function loggingInterceptor(logger: Logger): Interceptor {
  return (next) => async (request) => {
    const started = performance.now();
    request.contextValues.set(RPC_LOGGED_KEY, true);
    const call = { method: methodName(request), header: request.header, contextValues: request.contextValues };
    const log = (error?: unknown) => logRpc(logger, call, started, error);
    try {
      return whenFinished(await next(request), log);
    } catch (error) {
      log(error);
      throw error;
    }
  };
}

export function reasonOf(error: ConnectError): string | undefined {
  for (const detail of error.details) {
    if ('desc' in detail && detail.desc.typeName === 'google.rpc.ErrorInfo') return (detail.value as { reason?: string }).reason;
  }
  return undefined;
}

/**
 * Counts calls in flight, refuses new ones once shutdown has begun, and
 * refuses them at once beyond `max_calls_in_flight`: a call queued behind a
 * full database pool would only time out later, holding memory meanwhile,
 * while RESOURCE_EXHAUSTED now lets the client back off or go elsewhere.
 * One counter: O(1) per call.
 */
export class Admission {
  private draining = false;
  private in_flight = 0;
  /** Open streaming calls (Health Watch, WatchEvents): drained, but capped by their own limits, not max_calls_in_flight. */
  private streams_open = 0;
  private idle_waiters: (() => void)[] = [];

  constructor(private readonly max_calls_in_flight: number = Number.POSITIVE_INFINITY) {}

  interceptor(): Interceptor {
    return (next) => async (request) => {
      if (this.draining) throw new UnavailableError('server is shutting down; retry on another instance');
      // A watch stays open as long as its client likes; counting it here would let idle watchers starve unary calls.
      const streaming = request.method.methodKind !== 'unary';
      if (!streaming && this.in_flight - this.streams_open >= this.max_calls_in_flight) throw this.tooManyCalls(errorDomain(request.service.typeName));
      this.in_flight++;
      if (streaming) this.streams_open++;
      const finished = () => {
        this.in_flight--;
        if (streaming) this.streams_open--;
        if (this.in_flight === 0) for (const wake of this.idle_waiters.splice(0)) wake();
      };
      try {
        return whenFinished(await next(request), finished);
      } catch (error) {
        finished();
        throw error;
      }
    };
  }

  private tooManyCalls(domain: string): ConnectError {
    const limit = String(this.max_calls_in_flight);
    return new ConnectError(`the server has ${limit} calls in flight, its limit; retry with backoff`, Code.ResourceExhausted, undefined, [
      errorInfo('TOO_MANY_CALLS_IN_FLIGHT', domain, { maxCallsInFlight: limit }),
    ]);
  }

  get calls_in_flight(): number {
    return this.in_flight;
  }

  /** Stops admitting calls; resolves when none are in flight or after `grace_ms`. Returns true if drained. */
  async drain(grace_ms: number): Promise<boolean> {
    this.draining = true;
    if (this.in_flight === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => this.idle_waiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), grace_ms))),
    ]);
    clearTimeout(timer);
    return drained;
  }
}

/** Maps every error leaving a handler (or the auth step), unary or streaming, to a status with one ErrorInfo. */
export function errorInterceptor(logger: Logger, mappers: ReadonlyMap<string, DetailMapper>): Interceptor {
  return (next) => async (request) => {
    const map = (error: unknown) => toConnectError(error, errorDomain(request.service.typeName), logger, mappers.get(request.service.typeName));
    let response: UnaryResponse | StreamResponse;
    try {
      response = await next(request);
    } catch (error) {
      throw map(error);
    }
    if (!response.stream) return response;
    const messages = response.message;
    async function* mapped() {
      try {
        yield* messages;
      } catch (error) {
        throw map(error);
      }
    }
    return { ...response, message: mapped() };
  };
}

/**
 * Authenticates and authorizes before the handler runs: the permission check
 * needs only the method name, so a caller without rights learns nothing.
 */
export function authInterceptor(verifier: TokenVerifier, options: { reflection_requires_auth: boolean }): Interceptor {
  return (next) => async (request) => {
    const method = methodName(request);
    let required: Requirement | undefined = METHOD_ROLES[method];
    if (required === 'open' && options.reflection_requires_auth && REFLECTION_METHODS.includes(method)) required = 'viewer';
    if (required === undefined) {
      // Fail closed: a method someone forgot to list is nobody's.
      throw new ConnectError(`${method} has no permission entry`, Code.Unimplemented);
    }
    if (required === 'open') return next(request);
    const caller = await verifier.verify(request.header.get('authorization'));
    if (!satisfies(caller.roles, required)) throw new PermissionDeniedError(required, method);
    request.contextValues.set(CALLER_KEY, caller);
    return next(request);
  };
}
