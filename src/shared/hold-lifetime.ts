/**
 * The lifetime of a hold as a request gives it (google.protobuf.Duration),
 * checked against the server's policy, for both services' holds.
 */
import type { Duration } from '@bufbuild/protobuf/wkt';

export interface HoldPolicy {
  /** 0: a hold whose request names no lifetime never expires. */
  readonly ttl_default_ms: number;
  readonly ttl_max_ms: number;
}

export type Lifetime = { readonly ttl_ms: number | undefined; readonly problem?: undefined } | { readonly ttl_ms?: undefined; readonly problem: string };

/**
 * Milliseconds of life for a hold: the request's ttl (whole milliseconds, 1
 * to the maximum), else the server default; undefined means "never expires".
 * `required`: the request must name one (ExtendReservation).
 */
export function holdLifetime(ttl: Duration | undefined, policy: HoldPolicy, required = false): Lifetime {
  if (ttl === undefined) {
    if (required) return { problem: 'is required' };
    return { ttl_ms: policy.ttl_default_ms === 0 ? undefined : policy.ttl_default_ms };
  }
  const nanos_per_ms = 1_000_000;
  if (ttl.nanos % nanos_per_ms !== 0 || ttl.nanos < 0 || ttl.seconds < 0n) return { problem: 'must be a positive whole number of milliseconds' };
  const ms = Number(ttl.seconds) * 1000 + ttl.nanos / nanos_per_ms;
  if (!Number.isSafeInteger(ms) || ms < 1 || ms > policy.ttl_max_ms) return { problem: `must be between 1 ms and ${policy.ttl_max_ms} ms, got ${ttl.seconds}s ${ttl.nanos}ns` };
  return { ttl_ms: ms };
}
