/**
 * A closed-loop load: N lanes, each starting its next operation as soon as
 * the previous one ends, so exactly N operations are in flight. Operations
 * completed during the warm-up are not measured; those that end inside the
 * measured window count toward throughput and latency.
 */

export interface LoopOptions {
  readonly concurrency: number;
  readonly warmup_ms: number;
  readonly measure_ms: number;
  /** The next operation, or undefined when the workload has nothing left (a FIFO pool ran dry). */
  readonly next: () => (() => Promise<void>) | undefined;
  /** A short name for an error: the gRPC code, or the SQLSTATE. */
  readonly classify: (error: unknown) => string;
}

export interface LoopResult {
  readonly ops: number;
  readonly seconds: number;
  readonly latencies_ms: Float64Array;
  /** Errors inside the measured window, by class. */
  readonly errors: Record<string, number>;
  readonly error_examples: Record<string, string>;
  readonly exhausted: boolean;
  readonly started: number;
}

class Samples {
  private values = new Float64Array(1 << 16);
  length = 0;

  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }

  sorted(): Float64Array {
    return this.values.slice(0, this.length).sort();
  }
}

export async function closedLoop(options: LoopOptions): Promise<LoopResult> {
  const begin = performance.now();
  const window_start = begin + options.warmup_ms;
  const window_end = window_start + options.measure_ms;
  const latencies = new Samples();
  const errors: Record<string, number> = {};
  const error_examples: Record<string, string> = {};
  let exhausted_at: number | undefined;
  let started = 0;
  let last_end = window_start;

  const lane = async (): Promise<void> => {
    for (;;) {
      const now = performance.now();
      if (now >= window_end || exhausted_at !== undefined) return;
      const operation = options.next();
      if (operation === undefined) {
        exhausted_at ??= now;
        return;
      }
      started++;
      const t0 = performance.now();
      try {
        await operation();
        const t1 = performance.now();
        if (t0 >= window_start && t1 <= window_end) {
          latencies.push(t1 - t0);
          last_end = Math.max(last_end, t1);
        }
      } catch (error) {
        const t1 = performance.now();
        if (t0 >= window_start && t1 <= window_end) {
          const name = options.classify(error);
          errors[name] = (errors[name] ?? 0) + 1;
          error_examples[name] ??= error instanceof Error ? error.message.slice(0, 300) : String(error);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, lane));
  // A pool that ran dry ends the window at the last operation it allowed.
  const dry = exhausted_at !== undefined && exhausted_at < window_end;
  const end = dry ? last_end : window_end;
  return {
    ops: latencies.length,
    seconds: Math.max(0, end - window_start) / 1000,
    latencies_ms: latencies.sorted(),
    errors,
    error_examples,
    exhausted: dry,
    started,
  };
}
