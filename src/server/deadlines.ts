/**
 * Deadlines for every call. A call that sends none gets the default; a call
 * asking for more than the maximum is clamped to it (as gRPC servers do)
 * rather than refused. Done on the request headers before Connect reads them,
 * so Connect's own deadline handling (abort signal, DEADLINE_EXCEEDED) applies.
 *
 * Long-lived streams that clients open without a deadline (health Watch,
 * WatchEvents, reflection) are left alone.
 */
import type { IncomingHttpHeaders } from 'node:http2';

const OPEN_ENDED_PATHS = [
  '/grpc.health.v1.Health/Watch',
  '/stockroom.events.v1.EventService/WatchEvents',
  '/grpc.reflection.v1.ServerReflection/',
  '/grpc.reflection.v1alpha.ServerReflection/',
];

const GRPC_TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000001 };

function grpcTimeoutMs(value: string | undefined): number | undefined {
  const match = value ? /^(\d{1,8})([HMSmun])$/.exec(value) : null;
  return match ? Number(match[1]) * GRPC_TIMEOUT_UNIT_MS[match[2]] : undefined;
}

export function applyDeadlines(request: { url?: string; headers: IncomingHttpHeaders }, default_ms: number, max_ms: number): void {
  const path = request.url ?? '';
  if (OPEN_ENDED_PATHS.some((prefix) => path.startsWith(prefix))) return;
  const headers = request.headers;
  const is_grpc = String(headers['content-type'] ?? '').startsWith('application/grpc');
  if (is_grpc) {
    const requested = grpcTimeoutMs(headers['grpc-timeout'] as string | undefined);
    if (requested === undefined || requested > max_ms) headers['grpc-timeout'] = `${requested === undefined ? default_ms : max_ms}m`;
    return;
  }
  const raw = headers['connect-timeout-ms'] as string | undefined;
  const requested = raw !== undefined && /^\d{1,10}$/.test(raw) ? Number(raw) : undefined;
  if (requested === undefined || requested > max_ms) headers['connect-timeout-ms'] = String(requested === undefined ? default_ms : max_ms);
}
