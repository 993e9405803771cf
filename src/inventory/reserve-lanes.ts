/**
 * Coalescing of single-product Reserves per item (issue 15). A hot item's
 * row lock is held by one transaction at a time, from its first statement
 * until its commit is flushed, so Reserves of one item sent one transaction
 * each can never pass one commit per lock hold. Instead, while this process
 * has a transaction on an item in flight, further Reserves of that item
 * wait here, in arrival order; when it ends, the waiting ones go together
 * as one transaction (src/inventory/reserve-batch.ts).
 *
 * - A lone Reserve (nothing in flight on its item) runs alone, as before:
 *   coalescing costs nothing without contention.
 * - A batch holds at most `batch_max` requests and never two with the same
 *   reference (each hold, and its event, stays its own); the rest wait for
 *   the next batch.
 * - A waiting request whose deadline passes, or whose client leaves, leaves
 *   the queue with that error; once its batch has started, it is decided
 *   with the batch.
 * - A batch whose transaction fails with an error of the database's state
 *   (lock timeout, outage, repeated deadlock) answers every request with that
 *   error; any other failure (e.g. one request's reference at its product
 *   limit) runs each request alone, so each gets its own answer.
 * Lanes are per tenant, caller and item: the caller is recorded on every
 * event a transaction writes. Replicas each coalesce their own callers;
 * the row lock decides between them.
 */
import type { TransactionRunner } from '../db/transaction.js';
import { DomainError } from '../shared/errors.js';
import type { IdempotencyStore } from '../shared/idempotency.js';
import type { OrderResult } from './model.js';
import { reserveBatch, type PendingReserve, type ReserveOutcome } from './reserve-batch.js';

interface Waiting extends PendingReserve {
  resolve(result: OrderResult): void;
  reject(error: unknown): void;
  /** Takes the request out of the queue when its signal aborts while it waits. */
  readonly on_abort?: () => void;
}

/** Runs one Reserve in a transaction of its own (the path of a lone Reserve). */
export type ReserveAlone = (request: PendingReserve) => Promise<OrderResult>;

export class ReserveLanes {
  /** Present while a transaction on the item is in flight; holds the requests waiting for it. */
  private readonly lanes = new Map<string, Waiting[]>();

  constructor(
    private readonly runner: TransactionRunner,
    private readonly idempotency: IdempotencyStore,
    /** Largest batch; 1 turns coalescing off. */
    private readonly batch_max: number,
    private readonly alone: ReserveAlone,
  ) {}

  reserve(request: PendingReserve): Promise<OrderResult> {
    if (this.batch_max <= 1) return this.alone(request);
    const { tenant_id, subject } = request.context.caller;
    const lane = `${tenant_id}\u0000${subject}\u0000${request.line.product_id}`;
    const queue = this.lanes.get(lane);
    if (queue === undefined) {
      this.lanes.set(lane, []);
      return this.alone(request).finally(() => this.next(lane));
    }
    return this.enqueue(queue, request);
  }

  private enqueue(queue: Waiting[], request: PendingReserve): Promise<OrderResult> {
    return new Promise<OrderResult>((resolve, reject) => {
      const signal = request.context.signal;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const on_abort = () => {
        const index = queue.indexOf(waiting);
        if (index < 0) return;
        queue.splice(index, 1);
        reject(signal!.reason);
      };
      const waiting: Waiting = { ...request, resolve, reject, on_abort: signal ? on_abort : undefined };
      signal?.addEventListener('abort', on_abort, { once: true });
      queue.push(waiting);
    });
  }

  /** Starts the lane's next batch, or closes the lane when nobody waits. */
  private next(lane: string): void {
    const queue = this.lanes.get(lane)!;
    if (queue.length === 0) {
      this.lanes.delete(lane);
      return;
    }
    const batch = this.take(queue);
    const done = batch.length === 1 ? this.runAlone(batch[0]) : this.runBatch(batch);
    // Every request of the batch is settled by now; a programming error still must not stop the lane.
    void done.catch((error: unknown) => batch.forEach((waiting) => waiting.reject(error))).finally(() => this.next(lane));
  }

  /** The first waiting requests, in arrival order, up to batch_max and before a reference repeats. */
  private take(queue: Waiting[]): Waiting[] {
    const references = new Set<string>();
    let count = 0;
    while (count < queue.length && count < this.batch_max && !references.has(queue[count].input.reference)) {
      references.add(queue[count].input.reference);
      count++;
    }
    const batch = queue.splice(0, count);
    for (const waiting of batch) if (waiting.on_abort) waiting.context.signal!.removeEventListener('abort', waiting.on_abort);
    return batch;
  }

  private runAlone(waiting: Waiting): Promise<void> {
    return this.alone(waiting).then(waiting.resolve, waiting.reject);
  }

  private async runBatch(batch: readonly Waiting[]): Promise<void> {
    let outcomes: ReserveOutcome[];
    try {
      outcomes = await reserveBatch(this.runner, this.idempotency, batch);
    } catch (error) {
      if (error instanceof DomainError) {
        for (const waiting of batch) waiting.reject(error);
        return;
      }
      // Not the database's state but something about one request: each on its own.
      for (const waiting of batch) await this.runAlone(waiting);
      return;
    }
    batch.forEach((waiting, index) => {
      const outcome = outcomes[index];
      if ('result' in outcome) waiting.resolve(outcome.result);
      else waiting.reject(outcome.error);
    });
  }
}
