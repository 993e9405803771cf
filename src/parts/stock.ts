/**
 * The stock operations of the parts store. Each runs in one transaction,
 * inside its idempotency key when it has one, and follows THE lock order
 * (src/db/lock-order.ts): the part row (key share) where a balance may be
 * created, the balance row(s) (a transfer's two in location id order), the
 * work order's holds, then layers in FIFO order (locked by the movement
 * triggers). The balance check and the lock are one statement, so no
 * operation ever reads stock, decides, and writes without holding the lock.
 */
import type { TransactionRunner, Tx } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';
import { Decimal, type DecimalValue } from '../shared/decimal.js';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../shared/errors.js';
import type { IdempotencyStore } from '../shared/idempotency.js';
import { PartShortageError, ReturnExceedsIssuedError, tooManyLayers } from './errors.js';
import { takeOwnHold } from './work-order-holds.js';
import { LIMITS } from './limits.js';
import { partsMethod } from './methods.js';
import {
  QTY_SCALE,
  type AdjustInput,
  type Allocation,
  type CountInput,
  type CountResult,
  type MovementType,
  type ReceiveInput,
  type ReceiveResult,
  type StockResult,
  type TransferInput,
  type TransferResult,
  type VendorReturnInput,
  type WorkOrderInput,
} from './model.js';
import { toMicros } from './rows.js';
import { READ_BATCH, RETURN_STACK } from './stock-statements.js';
import {
  addLayer,
  allocation,
  changeLayers,
  creditBalance,
  debitBalance,
  takeFifo,
  transferLayers,
  tryDebitBalance,
  type LockedBalance,
  type Place,
} from './stock-repository.js';

const qty = (value: DecimalValue) => value.toFixed(QTY_SCALE);

function totalCost(allocations: readonly Allocation[]): DecimalValue {
  return allocations.reduce((sum, taken) => sum.plus(taken.total_cost), new Decimal(0));
}

export class StockOperations {
  constructor(
    private readonly runner: TransactionRunner,
    private readonly idempotency: IdempotencyStore,
  ) {}

  private operation<T>(context: CallContext, method: string, key: string | undefined, input: unknown, work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.runner.run(context, (tx) => this.idempotency.run(tx, { method: partsMethod(method), key, input }, () => work(tx)));
  }

  /** A new layer at the unit cost, a RECEIVE movement, and the part's last price. */
  receive(context: CallContext, input: ReceiveInput, key: string | undefined): Promise<ReceiveResult> {
    return this.operation(context, 'ReceiveParts', key, input, async (tx) => {
      const place: Place = { part_id: input.part_id, location_id: input.location_id };
      const balance = await creditBalance(tx, place, input.qty);
      const { batch, movement_id } = await addLayer(tx, place, {
        type: 'RECEIVE',
        qty: input.qty,
        unit_cost: input.unit_cost,
        received_at: input.received_at,
        receipt_id: input.receipt_id,
        reason: '',
        update_last_price: true,
      });
      const allocations = [allocation(batch.id, input.qty, input.unit_cost, batch.received_at)];
      return {
        batch,
        allocations,
        movement_ids: [movement_id],
        work_order_line_ids: [],
        message: `Received ${qty(input.qty)} of ${balance.part_number} into ${balance.location_label} at ${input.unit_cost.toFixed(4)}`,
        total_cost: totalCost(allocations),
        qty_on_hand_after: balance.qty_on_hand,
      };
    });
  }

  /** Strict FIFO: one work-order line and one ISSUE movement per layer taken from. */
  issue(context: CallContext, input: WorkOrderInput, key: string | undefined): Promise<StockResult> {
    return this.operation(context, 'IssueToWorkOrder', key, input, async (tx) => {
      const place: Place = { part_id: input.part_id, location_id: input.location_id };
      const balance = await this.debitForWorkOrder(tx, place, input);
      const allocations = await takeFifo(tx, place, input.qty, balance.part_number);
      const written = await changeLayers(tx, place, {
        type: 'ISSUE',
        changes: allocations.map((taken) => ({ batch_id: taken.batch_id, qty_delta: taken.qty.neg(), unit_cost: taken.unit_cost })),
        work_order_id: input.work_order_id,
        receipt_id: '',
        reason: '',
      });
      return {
        allocations,
        ...written,
        message: `Issued ${qty(input.qty)} of ${balance.part_number} to ${input.work_order_id}`,
        total_cost: totalCost(allocations),
        qty_on_hand_after: balance.qty_on_hand,
      };
    });
  }

  /**
   * The work order's own hold first, then free stock: with free stock enough
   * the debit comes first and a hold at the balance (reserved > 0) is then
   * taken from; without, the own hold is taken (balance locked first) and the
   * debit tried again. Either way the balance's lock comes before the hold's,
   * and the units leave reserved and on hand together. FIFO picks the layers.
   */
  private async debitForWorkOrder(tx: Tx, place: Place, input: WorkOrderInput): Promise<LockedBalance> {
    const free = await tryDebitBalance(tx, place, input.qty);
    if (free) {
      if (free.qty_reserved.gt(0)) await takeOwnHold(tx, input.work_order_id, place, input.qty);
      return free;
    }
    const taken = await takeOwnHold(tx, input.work_order_id, place, input.qty);
    const held = taken.gt(0) ? await tryDebitBalance(tx, place, input.qty) : undefined;
    // Refuses with numbers read under the lock, or debits if stock arrived meanwhile.
    return held ?? debitBalance(tx, place, input.qty);
  }

  /**
   * Puts units back into the layers the work order took them from, newest
   * issue first, at the cost they were issued at; never more than the work
   * order's net issued quantity of the part from the location.
   */
  returnFromWorkOrder(context: CallContext, input: WorkOrderInput, key: string | undefined): Promise<StockResult> {
    return this.operation(context, 'ReturnFromWorkOrder', key, input, async (tx) => {
      const place: Place = { part_id: input.part_id, location_id: input.location_id };
      const balance = await creditBalance(tx, place, input.qty);
      const allocations = await this.layersToRestore(tx, input, balance);
      const written = await changeLayers(tx, place, {
        type: 'RETURN',
        changes: allocations.map((restored) => ({ batch_id: restored.batch_id, qty_delta: restored.qty, unit_cost: restored.unit_cost })),
        work_order_id: input.work_order_id,
        receipt_id: '',
        reason: '',
      });
      return {
        allocations,
        ...written,
        message: `Returned ${qty(input.qty)} of ${balance.part_number} from ${input.work_order_id}`,
        total_cost: totalCost(allocations),
        qty_on_hand_after: balance.qty_on_hand,
      };
    });
  }

  private async layersToRestore(tx: Tx, input: WorkOrderInput, balance: LockedBalance): Promise<Allocation[]> {
    const rows = await tx.query<{
      net_issued: string;
      line_id: string | null;
      batch_id: string;
      unit_cost_snapshot: string;
      level_before: string;
      remaining: string;
      received_us: string;
    }>(RETURN_STACK, [
      tx.caller.tenant_id,
      input.work_order_id,
      input.part_id,
      input.location_id,
      qty(input.qty),
      LIMITS.layers_per_operation_max + 1,
    ]);
    const net_issued = new Decimal(rows[0].net_issued);
    if (input.qty.gt(net_issued)) {
      throw new ReturnExceedsIssuedError(input.work_order_id, input.part_id, balance.part_number, input.location_id, qty(input.qty), qty(net_issued));
    }
    const lines = rows.filter((row) => row.line_id !== null);
    if (lines.length > LIMITS.layers_per_operation_max) throw tooManyLayers();
    // The stack's top `qty` units: levels (net - qty, net], newest issue first.
    const floor = net_issued.minus(input.qty);
    const by_layer = new Map<string, Allocation>();
    for (const line of lines) {
      const bottom = new Decimal(line.level_before);
      const take = bottom.plus(line.remaining).minus(Decimal.max(bottom, floor));
      if (!take.gt(0)) continue;
      const earlier = by_layer.get(line.batch_id);
      // One allocation per layer, in the place of its newest issue.
      by_layer.set(line.batch_id, allocation(line.batch_id, take.plus(earlier?.qty ?? 0), new Decimal(line.unit_cost_snapshot), toMicros(line.received_us)));
    }
    return [...by_layer.values()];
  }

  /**
   * FIFO out of the source, into new layers at the destination that keep
   * each layer's received date and unit cost. Both balances are locked in
   * location id order, so transfers A→B and B→A cannot deadlock.
   */
  transfer(context: CallContext, input: TransferInput, key: string | undefined): Promise<TransferResult> {
    if (input.from_location_id === input.to_location_id) {
      throw InvalidArgumentError.field('to_location_id', 'must differ from from_location_id', 'SAME_LOCATION');
    }
    return this.operation(context, 'TransferBetweenLocations', key, input, async (tx) => {
      const source: Place = { part_id: input.part_id, location_id: input.from_location_id, location_field: 'from_location_id' };
      const destination: Place = { part_id: input.part_id, location_id: input.to_location_id, location_field: 'to_location_id' };
      let debited: LockedBalance;
      let credited: LockedBalance;
      if (input.from_location_id < input.to_location_id) {
        debited = await debitBalance(tx, source, input.qty);
        credited = await creditBalance(tx, destination, input.qty);
      } else {
        credited = await creditBalance(tx, destination, input.qty);
        debited = await debitBalance(tx, source, input.qty);
      }
      const taken = await takeFifo(tx, source, input.qty, debited.part_number);
      const moved = await transferLayers(tx, input.part_id, input.from_location_id, input.to_location_id, taken);
      const allocations = taken.map((layer, index) => ({ ...layer, destination_batch_id: moved[index].destination_batch_id }));
      return {
        allocations,
        movement_ids: [...moved.map((layer) => layer.out_movement_id), ...moved.map((layer) => layer.in_movement_id)],
        work_order_line_ids: [],
        message: `Transferred ${qty(input.qty)} of ${debited.part_number} from ${debited.location_label} to ${credited.location_label}`,
        total_cost: totalCost(allocations),
        qty_on_hand_after: debited.qty_on_hand,
        to_qty_on_hand_after: credited.qty_on_hand,
      };
    });
  }

  /** ADJUSTMENT: a negative delta consumes FIFO; a positive one adds a layer. */
  adjust(context: CallContext, input: AdjustInput, key: string | undefined): Promise<StockResult> {
    return this.operation(context, 'AdjustStock', key, input, async (tx) => {
      const place: Place = { part_id: input.part_id, location_id: input.location_id };
      const size = input.qty_delta.abs();
      if (input.qty_delta.isNegative()) {
        const balance = await debitBalance(tx, place, size);
        const result = await this.consume(tx, place, balance, size, 'ADJUSTMENT', input.reason, '');
        return { ...result, message: `Adjusted ${balance.part_number} at ${balance.location_label} by -${qty(size)}: ${input.reason}` };
      }
      const balance = await creditBalance(tx, place, size);
      const result = await this.addStock(tx, place, balance, size, input.unit_cost, 'ADJUSTMENT', input.reason);
      return { ...result, message: `Adjusted ${balance.part_number} at ${balance.location_label} by +${qty(size)}: ${input.reason}` };
    });
  }

  /** A cycle count: the difference to the books is booked as COUNT_ADJUST; nothing when they agree. */
  count(context: CallContext, input: CountInput, key: string | undefined): Promise<CountResult> {
    return this.operation(context, 'RecordCount', key, input, async (tx) => {
      const place: Place = { part_id: input.part_id, location_id: input.location_id };
      const balance = await creditBalance(tx, place, new Decimal(0));
      const previous_qty = balance.qty_on_hand;
      const delta = input.counted_qty.minus(previous_qty);
      const what = `${balance.part_number} at ${balance.location_label}`;
      if (input.counted_qty.lt(balance.qty_reserved)) {
        // Held units cannot be counted away; release the holds first.
        const available = previous_qty.minus(balance.qty_reserved);
        throw new PartShortageError(balance.part_number, place.part_id, place.location_id, delta.abs(), available, undefined, {
          on_hand: previous_qty,
          reserved: balance.qty_reserved,
        });
      }
      if (delta.isZero()) {
        return {
          allocations: [],
          movement_ids: [],
          work_order_line_ids: [],
          message: `Counted ${qty(input.counted_qty)} of ${what}: matches the books`,
          total_cost: new Decimal(0),
          qty_on_hand_after: previous_qty,
          previous_qty,
          qty_delta: delta,
        };
      }
      const result = delta.isNegative()
        ? await this.consume(tx, place, balance, delta.abs(), 'COUNT_ADJUST', input.reason, '')
        : await this.addStock(tx, place, balance, delta, input.unit_cost, 'COUNT_ADJUST', input.reason);
      // The movements' triggers moved the balance by exactly the delta.
      const qty_on_hand_after = previous_qty.plus(delta);
      return {
        ...result,
        message: `Counted ${qty(input.counted_qty)} of ${what}; the books said ${qty(previous_qty)}, booked ${delta.isNegative() ? '' : '+'}${qty(delta)}`,
        qty_on_hand_after,
        previous_qty,
        qty_delta: delta,
      };
    });
  }

  /** RTV_OUT from the named layer, else FIFO. */
  returnToVendor(context: CallContext, input: VendorReturnInput, key: string | undefined): Promise<StockResult> {
    return this.operation(context, 'ReturnToVendor', key, input, async (tx) => {
      const place: Place = { part_id: input.part_id, location_id: input.location_id };
      const balance = await debitBalance(tx, place, input.qty);
      const message = `Returned ${qty(input.qty)} of ${balance.part_number} to the vendor from ${balance.location_label}`;
      if (input.batch_id === null) {
        const result = await this.consume(tx, place, balance, input.qty, 'RTV_OUT', input.reason, input.receipt_id);
        return { ...result, message };
      }
      const layer = await this.readNamedLayer(tx, place, input.batch_id, input.qty, balance.part_number);
      const allocations = [allocation(layer.id, input.qty, new Decimal(layer.unit_cost), toMicros(layer.received_us))];
      const written = await changeLayers(tx, place, {
        type: 'RTV_OUT',
        changes: [{ batch_id: layer.id, qty_delta: input.qty.neg(), unit_cost: new Decimal(layer.unit_cost) }],
        work_order_id: null,
        receipt_id: input.receipt_id,
        reason: input.reason,
      });
      return { allocations, ...written, message, total_cost: totalCost(allocations), qty_on_hand_after: balance.qty_on_hand };
    });
  }

  /** The named layer, read under the balance lock; refused unless it is the part's at the location. */
  private async readNamedLayer(tx: Tx, place: Place, batch_id: string, wanted: DecimalValue, part_number: string) {
    const [layer] = await tx.query<{ id: string; part_id: string; location_id: string; qty_on_hand: string; unit_cost: string; received_us: string }>(
      READ_BATCH,
      [tx.caller.tenant_id, batch_id],
    );
    if (!layer) throw new NotFoundError('batch', batch_id, 'batch_id');
    if (layer.part_id !== place.part_id || layer.location_id !== place.location_id) {
      throw new FailedPreconditionError(`batch ${batch_id} does not hold ${part_number} at location ${place.location_id}`, 'BATCH_NOT_AT_LOCATION', {
        batchId: batch_id,
        partId: place.part_id,
        locationId: place.location_id,
      });
    }
    if (new Decimal(layer.qty_on_hand).lt(wanted)) {
      throw new PartShortageError(part_number, place.part_id, place.location_id, wanted, new Decimal(layer.qty_on_hand), batch_id);
    }
    return layer;
  }

  /** Takes units FIFO from a balance already debited, writing one movement per layer. */
  private async consume(
    tx: Tx,
    place: Place,
    balance: LockedBalance,
    size: DecimalValue,
    type: MovementType,
    reason: string,
    receipt_id: string,
  ): Promise<StockResult> {
    const allocations = await takeFifo(tx, place, size, balance.part_number);
    const written = await changeLayers(tx, place, {
      type,
      changes: allocations.map((taken) => ({ batch_id: taken.batch_id, qty_delta: taken.qty.neg(), unit_cost: taken.unit_cost })),
      work_order_id: null,
      receipt_id,
      reason,
    });
    return { allocations, ...written, message: '', total_cost: totalCost(allocations), qty_on_hand_after: balance.qty_on_hand };
  }

  /** Adds a layer at the given cost, else the part's last price. */
  private async addStock(
    tx: Tx,
    place: Place,
    balance: LockedBalance,
    size: DecimalValue,
    unit_cost: DecimalValue | null,
    type: 'ADJUSTMENT' | 'COUNT_ADJUST',
    reason: string,
  ): Promise<StockResult> {
    const cost = unit_cost ?? balance.last_price;
    if (cost === null) {
      throw new FailedPreconditionError(
        `part ${balance.part_number} has no last price; give unit_cost for the units added`,
        'UNIT_COST_REQUIRED',
        { partNumber: balance.part_number },
      );
    }
    const { batch, movement_id } = await addLayer(tx, place, {
      type,
      qty: size,
      unit_cost: cost,
      received_at: null,
      receipt_id: '',
      reason,
      update_last_price: false,
    });
    const allocations = [allocation(batch.id, size, cost, batch.received_at)];
    return { allocations, movement_ids: [movement_id], work_order_line_ids: [], message: '', total_cost: totalCost(allocations), qty_on_hand_after: balance.qty_on_hand };
  }
}
