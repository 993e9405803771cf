/**
 * Stock changes that are not orders: each changes one product's on_hand and
 * writes exactly one movement, in one statement. None may take on_hand below
 * reserved (units promised to orders stay on the shelf) or above the ceiling.
 */
import type { TransactionRunner } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';
import { assert, FailedPreconditionError, InsufficientStockError, NotFoundError } from '../shared/errors.js';
import type { IdempotencyStore } from '../shared/idempotency.js';
import { LIMITS } from './limits.js';
import { INVENTORY_SERVICE_NAME, inventoryMethod } from './methods.js';
import type { MovementType, StockChangeResult } from './model.js';
import { toBigInt, toItem, toMovement } from './rows.js';
import { stockRepository as repository, type Balance } from './stock-repository.js';

export interface ReceiptInput {
  readonly product_id: string;
  /** Units, > 0. */
  readonly quantity: bigint;
  readonly reference: string;
  readonly notes: string;
}

export interface AdjustmentInput {
  readonly product_id: string;
  /** Signed units, != 0. */
  readonly quantity_delta: bigint;
  readonly reason: string;
}

interface Change {
  readonly product_id: string;
  readonly delta: bigint;
  readonly type: MovementType;
  readonly reference: string;
  readonly notes: string;
}

export class StockChanges {
  constructor(
    private readonly runner: TransactionRunner,
    private readonly idempotency: IdempotencyStore,
  ) {}

  recordInbound(context: CallContext, input: ReceiptInput, idempotency_key: string | undefined): Promise<StockChangeResult> {
    return this.change(context, 'RecordInbound', input, idempotency_key, { ...input, delta: input.quantity, type: 'INBOUND' });
  }

  recordReturn(context: CallContext, input: ReceiptInput, idempotency_key: string | undefined): Promise<StockChangeResult> {
    return this.change(context, 'RecordReturn', input, idempotency_key, { ...input, delta: input.quantity, type: 'RETURN_IN' });
  }

  recordDamage(context: CallContext, input: ReceiptInput, idempotency_key: string | undefined): Promise<StockChangeResult> {
    return this.change(context, 'RecordDamage', input, idempotency_key, { ...input, delta: -input.quantity, type: 'DAMAGED' });
  }

  /** The reason is stored as the movement's notes. */
  adjust(context: CallContext, input: AdjustmentInput, idempotency_key: string | undefined): Promise<StockChangeResult> {
    const change: Change = { product_id: input.product_id, delta: input.quantity_delta, type: 'ADJUST', reference: '', notes: input.reason };
    return this.change(context, 'AdjustInventory', input, idempotency_key, change);
  }

  private change(context: CallContext, method: string, input: object, idempotency_key: string | undefined, change: Change): Promise<StockChangeResult> {
    return this.runner.run(context, (tx) =>
      this.idempotency.run(tx, { method: inventoryMethod(method), key: idempotency_key, input }, async () => {
        let row = await repository.applyStockChange(tx, change);
        if (!row) {
          // Decided under the item's lock: refuse with the numbers it holds
          // now, or (stock changed since the statement's snapshot) apply.
          const why = refusal(change, await repository.lockBalance(tx, change.product_id));
          if (why) throw why;
          row = await repository.applyStockChange(tx, change);
          assert(row, 'a stock change allowed under the lock was applied');
        }
        tx.count('stock_movements', INVENTORY_SERVICE_NAME, row.type, 1);
        return { item: toItem(row), movement: toMovement({ ...row, item_id: row.id, product_id: row.product_id }) };
      }),
    );
  }
}

/** Why the change cannot be made to this locked balance (unknown product, a shortage, the ceiling); undefined if it can. */
function refusal(change: Change, balance: Balance | undefined): Error | undefined {
  if (!balance) return new NotFoundError('product', change.product_id, 'product_id');
  const on_hand = toBigInt(balance.on_hand);
  const reserved = toBigInt(balance.reserved);
  if (on_hand + change.delta > LIMITS.on_hand_max) {
    return new FailedPreconditionError(
      `on_hand of "${change.product_id}" would be ${on_hand + change.delta}; at most ${LIMITS.on_hand_max} is allowed`,
      'ON_HAND_LIMIT_EXCEEDED',
      { productId: change.product_id, onHand: String(on_hand), quantity: String(change.delta), limit: String(LIMITS.on_hand_max) },
    );
  }
  if (on_hand + change.delta >= reserved) return undefined;
  // A decrease that would leave fewer units than are reserved.
  return new InsufficientStockError([
    { key: change.product_id, id: balance.id, requested: String(-change.delta), available: String(on_hand - reserved) },
  ], 'productId');
}
