/**
 * One transaction for a batch of single-product Reserves of one item
 * (issue 15): the Reserves that queued while another transaction on the
 * item was in flight (src/inventory/reserve-lanes.ts). It locks the item
 * row once, decides each request in arrival order against what is left,
 * writes every hold in one statement and commits once; each request still
 * gets exactly the answer it would have got alone, one after the other:
 *  - its lines and balance as they stood right after its own hold,
 *  - or INSUFFICIENT_STOCK with the units left when its turn came,
 *  - and its own idempotency record: keys are claimed first (as alone: the
 *    key, then the item), a repeated key answers from the earlier record or
 *    from the earlier request of the batch, and a refused request's claim
 *    is withdrawn (expired in place), so it leaves no record.
 * The database still defends every invariant: the holds' triggers derive
 * reserved and write the events, and a new line takes its reference's lock
 * and product count (migration 0004c).
 */
import type { TransactionRunner, Tx } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';
import { InsufficientStockError, NotFoundError } from '../shared/errors.js';
import { fingerprint, type IdempotencyStore, type KeyRecord } from '../shared/idempotency.js';
import { encodeTaggedJson } from '../shared/tagged-json.js';
import { lineField } from './lines.js';
import { inventoryMethod } from './methods.js';
import type { OrderLine, OrderResult } from './model.js';
import type { ReserveInput } from './orders.js';
import { toBigInt, toItem, toLine, type ItemRow } from './rows.js';
import { stockRepository as repository } from './stock-repository.js';

/** A Reserve of one product (its lines merged into `line`), waiting for its item. */
export interface PendingReserve {
  readonly context: CallContext;
  readonly input: ReserveInput;
  readonly line: OrderLine;
  readonly key: string | undefined;
}

export type ReserveOutcome = { readonly result: OrderResult } | { readonly error: unknown };

const RESERVE = inventoryMethod('Reserve');

/** How a key stands while the batch is decided: claimed by this batch, answered before, or answered by a request of the batch. */
type KeyState = { readonly claimed: true } | { readonly record: KeyRecord } | { readonly answered_by: number; readonly request_hash: Buffer };

/**
 * Runs the batch as one transaction; the outcomes are in request order.
 * Throws what the transaction failed with (lock timeout, outage, ...);
 * the caller then answers or retries each request on its own.
 */
export function reserveBatch(runner: TransactionRunner, idempotency: IdempotencyStore, batch: readonly PendingReserve[]): Promise<ReserveOutcome[]> {
  // No signal: one caller's deadline must not roll back the others' holds.
  const context: CallContext = { caller: batch[0].context.caller };
  return runner.run(context, (tx) => new BatchDecision(tx, idempotency, batch).run());
}

class BatchDecision {
  private readonly outcomes: ReserveOutcome[];
  private readonly hashes: (Buffer | undefined)[];
  private readonly keys = new Map<string, KeyState>();

  constructor(
    private readonly tx: Tx,
    private readonly idempotency: IdempotencyStore,
    private readonly batch: readonly PendingReserve[],
  ) {
    this.outcomes = new Array<ReserveOutcome>(batch.length);
    this.hashes = batch.map((request) => (request.key === undefined ? undefined : fingerprint(RESERVE, request.input)));
  }

  async run(): Promise<ReserveOutcome[]> {
    await this.claimKeys();
    const [item] = await repository.lockItemsByProduct(this.tx, [this.batch[0].line.product_id]);
    const admitted = this.decide(item);
    if (admitted.length > 0) await this.write(item, admitted);
    this.answerRepeats();
    await this.settleKeys();
    return this.outcomes;
  }

  private async claimKeys(): Promise<void> {
    const first = new Map<string, Buffer>();
    this.batch.forEach((request, index) => {
      if (request.key !== undefined && !first.has(request.key)) first.set(request.key, this.hashes[index]!);
    });
    if (first.size === 0) return;
    const keys = [...first].map(([key, request_hash]) => ({ key, request_hash }));
    const { claimed, records } = await this.idempotency.claimMany(this.tx, RESERVE, keys);
    for (const { key } of keys) this.keys.set(key, claimed.has(key) ? { claimed: true } : { record: records.get(key)! });
  }

  /** Arrival order: each fresh request takes its units from what the ones before it left. Returns the admitted indexes. */
  private decide(item: ItemRow | undefined): number[] {
    let available = item === undefined ? 0n : toBigInt(item.on_hand) - toBigInt(item.reserved);
    const admitted: number[] = [];
    this.batch.forEach((request, index) => {
      const state = request.key === undefined ? undefined : this.keys.get(request.key);
      if (state !== undefined && !('claimed' in state)) return; // a repeat, answered in answerRepeats
      if (request.context.signal?.aborted) {
        this.outcomes[index] = { error: request.context.signal.reason };
      } else if (item === undefined) {
        this.outcomes[index] = { error: new NotFoundError('product', request.line.product_id, lineField(request.input.lines, request.line.product_id)) };
      } else if (request.line.quantity > available) {
        const shortage = { key: request.line.product_id, id: item.id, requested: String(request.line.quantity), available: String(available) };
        this.outcomes[index] = { error: new InsufficientStockError([shortage], 'productId') };
      } else {
        available -= request.line.quantity;
        admitted.push(index);
        if (request.key !== undefined) this.keys.set(request.key, { answered_by: index, request_hash: this.hashes[index]! });
      }
    });
    return admitted;
  }

  /** One statement for every hold; each answer shows the item as it stood right after that request's hold. */
  private async write(item: ItemRow, admitted: readonly number[]): Promise<void> {
    const holds = admitted.map((index) => {
      const { input, line } = this.batch[index];
      return { reference: input.reference, quantity: line.quantity, ttl_ms: input.ttl_ms };
    });
    // Without keys to settle after it, the write is the transaction's last statement: its COMMIT goes with it.
    const rows = await repository.reserveLines(this.tx, item.id, holds, this.keys.size === 0);
    const by_reference = new Map(rows.map((row) => [row.reference, row]));
    let reserved = toBigInt(item.reserved);
    for (const index of admitted) {
      const { input, line } = this.batch[index];
      const row = by_reference.get(input.reference)!;
      reserved += line.quantity;
      const after = { ...item, reserved, updated_at: row.line_updated_at };
      this.outcomes[index] = { result: { reference: input.reference, lines: [toLine(line.product_id, row)], items: [toItem(after)], movements: [] } };
    }
  }

  /** Requests whose key was answered before, or earlier in this batch: the stored answer, or IDEMPOTENCY_KEY_REUSED. */
  private answerRepeats(): void {
    this.batch.forEach((request, index) => {
      if (this.outcomes[index] !== undefined || request.key === undefined) return;
      const state = this.keys.get(request.key)!;
      const record = 'record' in state ? state.record : 'answered_by' in state ? this.recordOf(state.answered_by) : undefined;
      try {
        this.outcomes[index] = { result: this.idempotency.answerOf<OrderResult>(this.tx, { method: RESERVE, key: request.key, input: request.input }, this.hashes[index]!, record) };
      } catch (error) {
        this.outcomes[index] = { error };
      }
    });
  }

  private recordOf(index: number): KeyRecord {
    return { request_hash: this.hashes[index]!, response: encodeTaggedJson((this.outcomes[index] as { result: OrderResult }).result) };
  }

  private async settleKeys(): Promise<void> {
    const answers: { key: string; request_hash: Buffer; result: unknown }[] = [];
    const withdrawn: string[] = [];
    for (const [key, state] of this.keys) {
      if ('answered_by' in state) answers.push({ key, request_hash: state.request_hash, result: (this.outcomes[state.answered_by] as { result: OrderResult }).result });
      else if ('claimed' in state) withdrawn.push(key);
    }
    await this.idempotency.settleMany(this.tx, RESERVE, answers, withdrawn);
  }
}
