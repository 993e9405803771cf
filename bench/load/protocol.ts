/**
 * Messages between the orchestrator (bench/run.ts) and the load process
 * (bench/load/worker.ts). The load runs in its own process so that the
 * server's CPU and memory are the server's alone, and so that the gRPC
 * ceiling and the service are driven by the very same client code.
 */

/** What drives the calls: the service over gRPC, the trivial RPC on a bare server, or the database directly. */
export type Target = 'service' | 'grpc-echo' | 'raw-db';

/** A part at a location whose open layers a FIFO run may consume. */
export interface Place {
  readonly part_id: string;
  readonly location_id: string;
}

export type Workload =
  | { readonly kind: 'reserve-spread'; readonly product_ids: readonly string[] }
  | { readonly kind: 'reserve-hot'; readonly product_id: string }
  | { readonly kind: 'check-availability'; readonly product_ids: readonly string[]; readonly lines: number }
  | {
      readonly kind: 'fifo-issue';
      readonly places: readonly Place[];
      /**
       * Call k issues from places[schedule[k]]; the schedule visits places
       * round robin, so calls in flight touch different balances, and ends
       * where the places' open layers would run out.
       */
      readonly schedule: Uint32Array;
      /** Units per issue (decimal string); with layers of 1 unit, the layers consumed. */
      readonly qty: string;
    }
  | { readonly kind: 'echo' };

export interface InitMessage {
  readonly type: 'init';
  /** host:port of the server. */
  readonly address: string;
  /** host:port of the bare connect-node server of the grpc-echo ceiling (bench/echo-server.ts). */
  readonly echo_address: string;
  /** Owner connection string; the raw-db pool switches to the service role. */
  readonly database_url: string;
  /** Bearer token per tenant. */
  readonly tokens: Readonly<Record<string, string>>;
  /** The raw-db pool's cap: the same as the server's pool. */
  readonly pool_max: number;
  readonly lock_timeout_ms: number;
  readonly statement_timeout_ms: number;
}

export interface RunMessage {
  readonly type: 'run';
  readonly id: number;
  readonly target: Target;
  readonly tenant: string;
  readonly workload: Workload;
  readonly concurrency: number;
  readonly warmup_ms: number;
  readonly measure_ms: number;
  /** Prefix that keeps references and work orders of this run unique. */
  readonly run_tag: string;
}

export interface StopMessage {
  readonly type: 'stop';
}

export type ToWorker = InitMessage | RunMessage | StopMessage;

export interface RunResult {
  /** Operations completed without error inside the measured window. */
  readonly ops: number;
  /** Length of the measured window in seconds (shorter if a FIFO pool ran dry). */
  readonly seconds: number;
  /** Latencies of the measured window's operations, in ms, sorted ascending. */
  readonly latencies_ms: Float64Array;
  /** Failed operations by gRPC code name (or SQLSTATE for raw-db), over the whole run. */
  readonly errors: Record<string, number>;
  /** Successful calls per RPC over the whole run, warm-up included (for the invariants). */
  readonly calls_ok: Record<string, number>;
  /** True when a FIFO run used up its places before the window ended. */
  readonly exhausted: boolean;
  /** Operations started over the whole run (FIFO pool accounting). */
  readonly started: number;
  /** One example message per error code. */
  readonly error_examples: Record<string, string>;
}

export interface ResultMessage {
  readonly type: 'result';
  readonly id: number;
  readonly result?: RunResult;
  readonly error?: string;
}

export interface ReadyMessage {
  readonly type: 'ready';
}

export type FromWorker = ResultMessage | ReadyMessage;
