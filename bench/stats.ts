/** Figures of one measured point, from the load process's raw result. */
import type { RunResult, Target } from './load/protocol.js';
import type { CpuShares } from './machine.js';

export interface Point {
  readonly scenario: string;
  readonly target: Target;
  readonly concurrency: number;
  readonly ops: number;
  readonly seconds: number;
  readonly ops_per_second: number;
  readonly p50_ms: number;
  readonly p95_ms: number;
  readonly p99_ms: number;
  readonly max_ms: number;
  readonly errors: Record<string, number>;
  readonly error_examples: Record<string, string>;
  /** Service points only. */
  readonly server_peak_rss_mb?: number;
  /** Server process CPU (user + system) per operation, service points only. */
  readonly server_cpu_ms_per_op?: number;
  /** Load process CPU per operation: the client's share of the two cores. */
  readonly client_cpu_ms_per_op?: number;
  /** A FIFO pool ran dry before the window ended; the window was shortened. */
  readonly exhausted: boolean;
  /** Shares of both cores over the whole point: server, PostgreSQL, load process, anything else, idle. */
  readonly cpu?: CpuShares;
}

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function toPoint(scenario: string, target: Target, concurrency: number, result: RunResult, extra: Partial<Point> = {}): Point {
  const latencies = result.latencies_ms;
  return {
    scenario,
    target,
    concurrency,
    ops: result.ops,
    seconds: result.seconds,
    ops_per_second: result.seconds > 0 ? result.ops / result.seconds : 0,
    p50_ms: percentile(latencies, 0.5),
    p95_ms: percentile(latencies, 0.95),
    p99_ms: percentile(latencies, 0.99),
    max_ms: latencies.length ? latencies[latencies.length - 1] : Number.NaN,
    errors: result.errors,
    error_examples: result.error_examples,
    exhausted: result.exhausted,
    ...extra,
  };
}

/** 1 / (1/a + 1/b): both layers doing their share of the work on the same cores. */
export function composed(raw_db: number | undefined, grpc_echo: number | undefined): number | undefined {
  if (!raw_db || !grpc_echo) return undefined;
  return 1 / (1 / raw_db + 1 / grpc_echo);
}
