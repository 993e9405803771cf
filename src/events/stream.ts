/**
 * One WatchEvents stream: a reader that polls the outbox from the stream's
 * position into a bounded buffer, and the stream that delivers the buffer
 * to the client, with heartbeats while idle.
 *
 * Exactly once and in order: the reader asks only for events after the last
 * one it buffered, and the commit-ordered read (store.ts) never returns an
 * event before a position it already passed.
 *
 * Bounded: the reader stops reading while the buffer is more than half full
 * (and reads again, in one batch, when the client took half). A buffer that
 * stays that full for `slow_client_ms` (the client reads slower than events
 * commit) ends the stream with RESOURCE_EXHAUSTED and the position of the
 * last event delivered, from which the client resumes.
 */
import type { CallContext } from '../shared/caller.js';
import { ResourceExhaustedError, UnavailableError } from '../shared/errors.js';
import type { TransactionRunner } from '../db/transaction.js';
import type { EventsConfig } from '../server/config.js';
import type { EventFilter, EventView } from './model.js';
import { formatPosition, type Position } from '../db/position.js';
import { readEvents } from './store.js';

export type StreamItem = { kind: 'event'; event: EventView } | { kind: 'heartbeat'; position: Position };

/** Events one poll reads at most. */
const READ_BATCH_MAX = 500;

export interface StreamOptions {
  readonly config: EventsConfig;
  readonly runner: TransactionRunner;
  /** Aborted when the server stops: the stream ends with UNAVAILABLE and its resume position. */
  readonly stopping: AbortSignal;
}

export async function* watchStream(context: CallContext, filter: EventFilter, start: Position, options: StreamOptions): AsyncGenerator<StreamItem> {
  const reader = new BufferedReader(context, filter, start, options);
  const ended = AbortSignal.any([options.stopping, ...(context.signal ? [context.signal] : [])]);
  void reader.run(ended);
  let delivered = start;
  let last_sent = Date.now();
  try {
    for (;;) {
      if (options.stopping.aborted) {
        throw new UnavailableError(`the server is shutting down; resume after position ${formatPosition(delivered)}`, 'SHUTTING_DOWN');
      }
      if (context.signal?.aborted) return;
      if (reader.failure) throw reader.failure;
      if (reader.overflowed) {
        throw new ResourceExhaustedError(
          `the client read events slower than they committed (${options.config.stream_buffer_max} events waited ${options.config.slow_client_ms} ms); resume after position ${formatPosition(delivered)}`,
          'EVENT_STREAM_BUFFER_FULL',
          { resumePosition: formatPosition(delivered), bufferMax: String(options.config.stream_buffer_max), slowClientMs: String(options.config.slow_client_ms) },
        );
      }
      const event = reader.take();
      if (event !== undefined) {
        yield { kind: 'event', event };
        delivered = event.position;
        last_sent = Date.now();
        continue;
      }
      const idle_ms = Date.now() - last_sent;
      if (idle_ms >= options.config.heartbeat_interval_ms) {
        delivered = reader.covered;
        yield { kind: 'heartbeat', position: delivered };
        last_sent = Date.now();
        continue;
      }
      await reader.changed(options.config.heartbeat_interval_ms - idle_ms, ended);
    }
  } finally {
    reader.stop();
  }
}

/** Polls the outbox into a buffer of at most stream_buffer_max events. */
class BufferedReader {
  private readonly buffer: EventView[] = [];
  private head = 0;
  private position: Position;
  /** Everything up to here is buffered or was delivered (may be past the last event, with filters). */
  covered: Position;
  overflowed = false;
  failure: unknown;
  private stopped = false;
  private wake: (() => void) | undefined;
  private notify: (() => void) | undefined;

  constructor(
    private readonly context: CallContext,
    private readonly filter: EventFilter,
    start: Position,
    private readonly options: StreamOptions,
  ) {
    this.position = start;
    this.covered = start;
  }

  get size(): number {
    return this.buffer.length - this.head;
  }

  take(): EventView | undefined {
    if (this.head >= this.buffer.length) return undefined;
    const event = this.buffer[this.head++];
    if (this.head > 1024 && this.head * 2 > this.buffer.length) this.buffer.splice(0, this.head), (this.head = 0);
    // Refill in batches, not one event per read: wake the reader at half full.
    if (this.size <= this.options.config.stream_buffer_max / 2) this.wake?.();
    return event;
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** Resolves when events arrive, the reader fails, `ms` pass or `signal` aborts. */
  changed(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.notify = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.notify = done;
    });
  }

  async run(ended: AbortSignal): Promise<void> {
    const { config, runner } = this.options;
    let full_since: number | undefined;
    try {
      while (!this.stopped && !ended.aborted) {
        const room = config.stream_buffer_max - this.size;
        if (room < config.stream_buffer_max / 2) {
          full_since ??= Date.now();
          if (Date.now() - full_since >= config.slow_client_ms) {
            this.overflowed = true;
            this.notify?.();
            return;
          }
          await this.sleep(Math.min(config.poll_interval_ms, config.slow_client_ms), ended, true);
          continue;
        }
        full_since = undefined;
        const limit = Math.min(room, READ_BATCH_MAX);
        const batch = await runner.run(this.context, (tx) => readEvents(tx, this.position, this.filter, limit), { read_only: true });
        if (batch.events.length > 0) {
          this.buffer.push(...batch.events);
          this.position = batch.events[batch.events.length - 1].position;
        }
        this.covered = batch.covered;
        if (batch.events.length > 0) this.notify?.();
        if (batch.events.length < limit) await this.sleep(config.poll_interval_ms, ended, false);
      }
    } catch (error) {
      if (!ended.aborted && !this.stopped) {
        this.failure = error;
        this.notify?.();
      }
    }
  }

  /** Waits `ms`; with `until_room`, less if the client takes an event first. */
  private sleep(ms: number, signal: AbortSignal, until_room: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      if (until_room) this.wake = done;
    });
  }
}
