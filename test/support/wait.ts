/**
 * Waiting for what other processes do on their own timers (sweepers, the
 * event relay, health gauges, exporters): poll, never sleep a fixed time.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Give up after this long (default 10 s); generous, for a loaded CI machine. */
  readonly timeout_ms?: number;
  /** Pause between reads (default 50 ms). */
  readonly interval_ms?: number;
}

/**
 * Reads until `done` accepts the value or the time is up, and returns the
 * last value read either way: the caller's expect() then reports what was
 * last seen rather than a bare timeout.
 */
export async function eventually<T>(read: () => T | Promise<T>, done: (value: T) => boolean, options: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeout_ms ?? 10_000);
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() >= deadline) return value;
    await sleep(options.interval_ms ?? 50);
  }
}

/** Waits until `condition` holds; throws naming `what` when the time is up. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, options: WaitOptions = {}): Promise<void> {
  if (!(await eventually(condition, Boolean, options))) throw new Error(`timed out waiting for ${what}`);
}
