/**
 * The order flow of the reference design (check_available, reserve, release,
 * commit_outbound) as a two-phase transfer: Reserve makes units pending under
 * an order reference; CommitOutbound posts them (in one or several parts) and
 * Release voids them. Each call is one transaction that either does all of
 * its lines or nothing, and takes its locks in THE lock order
 * (src/db/lock-order.ts): items in id order, then their lines, then (for a
 * new line) the reference.
 */
import { sqlState, type TransactionRunner, type Tx } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';
import { assert, FailedPreconditionError, InsufficientStockError, NotFoundError, type Shortage } from '../shared/errors.js';
import type { IdempotencyStore } from '../shared/idempotency.js';
import { ReservationExceededError, type ExceededLine } from './errors.js';
import { ReserveLanes } from './reserve-lanes.js';
import { expiredInstead, lapsedRefusal } from './holds.js';
import { LIMITS } from './limits.js';
import { lineField, mergeLines } from './lines.js';
import type { AvailabilityResult, OrderLine, OrderResult, ReservationLineView } from './model.js';
import { toBigInt, toItem, toLine, toMovement, type ItemRow, type LapsedHoldRow } from './rows.js';
import { stockRepository as repository, type CommitRow, type ItemQuantities, type LineRow } from './stock-repository.js';
import { INVENTORY_SERVICE_NAME, inventoryMethod } from './methods.js';

export interface OrderInput {
  /** As the caller sent them (validated); lines of one product are summed here. */
  readonly lines: readonly OrderLine[];
  readonly reference: string;
}

export interface ReserveInput extends OrderInput {
  /** Lifetime of the lines (request or server default); undefined: they never expire. */
  readonly ttl_ms?: number;
}

export interface CommitInput extends OrderInput {
  readonly notes: string;
}

/** Locks the items of the merged lines in id order; refuses the request if any product is unknown. */
async function lockLines(tx: Tx, raw: readonly OrderLine[], merged: readonly OrderLine[]): Promise<Map<string, ItemRow>> {
  const rows = await repository.lockItemsByProduct(
    tx,
    merged.map((line) => line.product_id),
  );
  const by_product = new Map(rows.map((row) => [row.product_id, row]));
  const missing = merged.find((line) => !by_product.has(line.product_id));
  if (missing) throw new NotFoundError('product', missing.product_id, lineField(raw, missing.product_id));
  return by_product;
}

/** The change to write, in lock (item id) order so statement-level locks follow the same order. */
function inLockOrder(merged: readonly OrderLine[], items: Map<string, ItemRow>): ItemQuantities {
  const pairs = merged.map((line) => ({ id: items.get(line.product_id)!.id, quantity: line.quantity }));
  pairs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { item_ids: pairs.map((pair) => pair.id), quantities: pairs.map((pair) => pair.quantity) };
}

/** Orders written rows as the request named their products. */
function inRequestOrder<Row extends LineRow>(merged: readonly OrderLine[], rows: readonly Row[]): Row[] {
  const by_product = new Map(rows.map((row) => [row.product_id, row]));
  return merged.map((line) => {
    const row = by_product.get(line.product_id);
    assert(row, `no written row for product ${line.product_id}`);
    return row;
  });
}

function orderResult(reference: string, rows: readonly LineRow[]): OrderResult {
  return {
    reference,
    lines: rows.map((row) => toLine(row.product_id, row)),
    items: rows.map(toItem),
    movements: [],
  };
}

/**
 * The refusal when a release or commit wrote fewer lines than requested: the
 * lines missing from `written` asked for more than the reference holds.
 * Their holds were not touched by the write, so reading them now gives the
 * numbers the request was checked against.
 */
async function exceeded(tx: Tx, reference: string, merged: readonly OrderLine[], items: Map<string, ItemRow>, written: readonly LineRow[]): Promise<Error> {
  const done = new Set(written.map((row) => row.product_id));
  const refused = merged.filter((line) => !done.has(line.product_id));
  const holds = await repository.readHolds(
    tx,
    reference,
    refused.map((line) => items.get(line.product_id)!.id),
  );
  return heldTooLittle(reference, refused, (line) => holds.get(items.get(line.product_id)!.id));
}

/** The refusal of lines that asked for more than their holds (`hold`, read under the items' locks) have: lapsed, or exceeded. */
function heldTooLittle(reference: string, refused: readonly OrderLine[], hold: (line: OrderLine) => LapsedHoldRow | undefined): Error {
  const lapsed = lapsedRefusal(reference, refused, hold);
  if (lapsed) return lapsed;
  const lines: ExceededLine[] = refused.map((line) => ({ product_id: line.product_id, requested: line.quantity, held: toBigInt(hold(line)?.held ?? 0) }));
  assert(lines.every((line) => line.requested > line.held), 'a refused line had enough held');
  return new ReservationExceededError(reference, lines);
}

/** What a line asked of an item that has too little available. */
function shortage(line: OrderLine, item: ItemRow): Shortage | undefined {
  const available = toBigInt(item.on_hand) - toBigInt(item.reserved);
  return line.quantity > available ? { key: line.product_id, id: item.id, requested: String(line.quantity), available: String(available) } : undefined;
}

const CHECK_VIOLATION = '23514';
// What Citus answers when it relays a worker's error through the coordinator.
const INTERNAL_ERROR = 'XX000';

/**
 * The count of products the reference would hold, when `error` is the
 * product-limit refusal of a reserve write: the write's only check that
 * input can fail (its items are locked and their stock checked first),
 * raised by the limit's trigger (migration 0004c) with the count as its
 * detail. Decided by the statement and the error's class, not by the
 * constraint's name, which a distributed engine does not relay (and may
 * relay the class itself as XX000).
 */
function productLimitRefusal(error: unknown): string | undefined {
  const state = sqlState(error);
  if (state !== CHECK_VIOLATION && state !== INTERNAL_ERROR) return undefined;
  const detail = (error as { detail?: unknown }).detail;
  return typeof detail === 'string' && /^[0-9]+$/.test(detail) ? detail : undefined;
}

/**
 * Writes a reserve, refusing it when the reference would hold too many
 * products. The database counts under the reference's lock (migration
 * 0004c), so the limit is exact however many Reserves add to one reference
 * at once; its error carries the count.
 */
async function withinProductLimit<T>(reference: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    const products = productLimitRefusal(error);
    if (products === undefined) throw error;
    throw new FailedPreconditionError(
      `reference "${reference}" would hold ${products} products; at most ${LIMITS.products_per_reference} are allowed`,
      'RESERVATION_PRODUCT_LIMIT_EXCEEDED',
      { reference, products, limit: String(LIMITS.products_per_reference) },
    );
  }
}

/** The answer to a commit that shipped `rows` (in request order), counted once it commits. */
function shipped(tx: Tx, reference: string, rows: readonly CommitRow[]): OrderResult {
  tx.count('stock_movements', INVENTORY_SERVICE_NAME, 'OUTBOUND', rows.length);
  return {
    ...orderResult(reference, rows),
    movements: rows.map((row) => toMovement({ ...row, item_id: row.id, product_id: row.product_id })),
  };
}

export class OrderFlow {
  /** Reserves of one product queue per item while a transaction on it is in flight (reserve-lanes.ts). */
  private readonly lanes: ReserveLanes;

  constructor(
    private readonly runner: TransactionRunner,
    private readonly idempotency: IdempotencyStore,
    /** Most Reserves one coalesced transaction decides; 1: every Reserve alone. */
    reserve_batch_max: number,
  ) {
    this.lanes = new ReserveLanes(runner, idempotency, reserve_batch_max, (request) => this.reserveAlone(request.context, request.input, request.key));
  }

  /** A snapshot answer; nothing is locked or reserved. */
  checkAvailability(context: CallContext, lines: readonly OrderLine[]): Promise<AvailabilityResult> {
    const merged = mergeLines(lines);
    return this.runner.run(
      context,
      async (tx) => {
        const rows = await repository.readAvailability(
          tx,
          merged.map((line) => line.product_id),
        );
        const by_product = new Map(rows.map((row) => [row.product_id, row]));
        const result = merged.map((line) => {
          const row = by_product.get(line.product_id);
          if (!row) throw new NotFoundError('product', line.product_id, lineField(lines, line.product_id));
          const available = toBigInt(row.on_hand) - toBigInt(row.reserved);
          return { product_id: line.product_id, requested: line.quantity, available, sufficient: line.quantity <= available };
        });
        return { available: result.every((line) => line.sufficient), lines: result };
      },
      { read_only: true },
    );
  }

  reserve(context: CallContext, input: ReserveInput, idempotency_key: string | undefined): Promise<OrderResult> {
    const merged = mergeLines(input.lines);
    if (merged.length === 1) return this.lanes.reserve({ context, input, line: merged[0], key: idempotency_key });
    return this.reserveAlone(context, input, idempotency_key);
  }

  /** A Reserve in a transaction of its own. */
  private reserveAlone(context: CallContext, input: ReserveInput, idempotency_key: string | undefined): Promise<OrderResult> {
    return this.runner.run(context, (tx) =>
      this.idempotency.run(tx, { method: inventoryMethod('Reserve'), key: idempotency_key, input }, async () => {
        const merged = mergeLines(input.lines);
        if (merged.length === 1) return this.reserveProduct(tx, input, merged[0]);
        const items = await lockLines(tx, input.lines, merged);
        const shortages = merged.map((line) => shortage(line, items.get(line.product_id)!)).filter((each) => each !== undefined);
        if (shortages.length > 0) throw new InsufficientStockError(shortages, 'productId');
        const rows = await withinProductLimit(input.reference, () => repository.applyReserve(tx, input.reference, inLockOrder(merged, items), items.values(), input.ttl_ms));
        return orderResult(input.reference, inRequestOrder(merged, rows));
      }),
    );
  }

  /** The common order of one product: lock, decide, write and commit in one round trip. */
  private async reserveProduct(tx: Tx, input: ReserveInput, line: OrderLine): Promise<OrderResult> {
    const decided = await withinProductLimit(input.reference, () => repository.reserveProduct(tx, input.reference, line, input.ttl_ms));
    if (decided === undefined) throw new NotFoundError('product', line.product_id, lineField(input.lines, line.product_id));
    if (!decided.admitted) throw new InsufficientStockError([shortage(line, decided.item)!], 'productId');
    return orderResult(input.reference, [decided.row]);
  }

  /** Releases the given lines, or with no lines everything the reference still holds. */
  release(context: CallContext, input: OrderInput, idempotency_key: string | undefined): Promise<OrderResult> {
    return this.runner.run(context, (tx) =>
      this.idempotency.run(tx, { method: inventoryMethod('Release'), key: idempotency_key, input }, async () => {
        if (input.lines.length === 0) return this.releaseAll(tx, input.reference);
        const merged = mergeLines(input.lines);
        const items = await lockLines(tx, input.lines, merged);
        const rows = await repository.applyRelease(tx, input.reference, inLockOrder(merged, items));
        if (rows.length < merged.length) throw await exceeded(tx, input.reference, merged, items, rows);
        return orderResult(input.reference, inRequestOrder(merged, rows));
      }),
    );
  }

  private async releaseAll(tx: Tx, reference: string): Promise<OrderResult> {
    const items = await repository.lockItemsHeldBy(tx, reference);
    if (items.length === 0) {
      const lines = await repository.reservationLines(tx, reference, LIMITS.products_per_reference);
      if (lines.length === 0) throw new NotFoundError('reservation', reference, 'reference');
      // Nothing left to release: refuse if what it held expired instead.
      const lapsed = expiredInstead(reference, lines);
      if (lapsed) throw lapsed;
      return orderResult(reference, []);
    }
    // Holds read after the lock: current, whatever happened while we waited.
    const holds = await repository.readHolds(
      tx,
      reference,
      items.map((item) => item.id),
    );
    // Answered by product id (the items came in lock order, by internal id, which differs run to run).
    const held = items
      .map((item) => ({ product_id: item.product_id, quantity: toBigInt(holds.get(item.id)?.held ?? 0) }))
      .filter((line) => line.quantity > 0n)
      .sort((a, b) => (a.product_id < b.product_id ? -1 : a.product_id > b.product_id ? 1 : 0));
    if (held.length === 0) return orderResult(reference, []);
    const by_product = new Map(items.map((item) => [item.product_id, item]));
    const rows = await repository.applyRelease(tx, reference, inLockOrder(held, by_product));
    assert(rows.length === held.length, 'release-all wrote fewer lines than were held under lock');
    return orderResult(reference, inRequestOrder(held, rows));
  }

  /** Ships held units: reserved and on_hand fall together, one OUTBOUND movement per product. */
  commitOutbound(context: CallContext, input: CommitInput, idempotency_key: string | undefined): Promise<OrderResult> {
    return this.runner.run(context, (tx) =>
      this.idempotency.run(tx, { method: inventoryMethod('CommitOutbound'), key: idempotency_key, input }, async () => {
        const merged = mergeLines(input.lines);
        if (merged.length === 1) return this.commitProduct(tx, input, merged[0]);
        const items = await lockLines(tx, input.lines, merged);
        const written = await repository.applyCommit(tx, input.reference, input.notes, inLockOrder(merged, items), items.values());
        if (written.length < merged.length) throw await exceeded(tx, input.reference, merged, items, written);
        return shipped(tx, input.reference, inRequestOrder<CommitRow>(merged, written));
      }),
    );
  }

  /** A commit of one product: lock, decide, write and commit in one round trip. */
  private async commitProduct(tx: Tx, input: CommitInput, line: OrderLine): Promise<OrderResult> {
    const decided = await repository.commitProduct(tx, input.reference, input.notes, line);
    if (decided === undefined) throw new NotFoundError('product', line.product_id, lineField(input.lines, line.product_id));
    if (!decided.admitted) throw heldTooLittle(input.reference, [line], () => decided.hold);
    return shipped(tx, input.reference, [decided.row]);
  }

  /** Every product the reference ever reserved, ordered by product id. */
  getReservation(context: CallContext, reference: string): Promise<ReservationLineView[]> {
    return this.runner.run(
      context,
      async (tx) => {
        const rows = await repository.reservationLines(tx, reference, LIMITS.products_per_reference);
        if (rows.length === 0) throw new NotFoundError('reservation', reference, 'reference');
        return rows.map((row) => toLine(row.product_id, row));
      },
      { read_only: true },
    );
  }
}
