/**
 * The stock paths' steps, named for their purpose: lock a balance (taking or
 * adding units), take layers FIFO, write layer changes with their ledger
 * rows. Each is one or a few prepared statements; the operations in
 * stock.ts compose them inside one transaction.
 */
import type { Tx } from '../db/transaction.js';
import { sqlState } from '../db/transaction.js';
import { Decimal, type DecimalValue } from '../shared/decimal.js';
import { assert } from '../shared/errors.js';
import { balanceLimitExceeded, ledgerInconsistent, locationNotFound, partNotFound, PartShortageError, tooManyLayers } from './errors.js';
import { LIMITS } from './limits.js';
import { PARTS_SERVICE } from './methods.js';
import { COST_SCALE, QTY_SCALE, type Allocation, type BatchView, type Micros, type MovementType } from './model.js';
import { toBatch, toMicros, type BatchRow } from './rows.js';
import { shortageAt } from './work-order-holds.js';
import {
  CHANGE_LAYERS,
  CREDIT_BALANCE,
  DEBIT_BALANCE,
  FIFO_FIRST,
  FIFO_NEXT,
  NEW_LAYER,
  TRANSFER_LAYERS,
} from './stock-statements.js';

const NUMERIC_OUT_OF_RANGE = '22003';

/**
 * Layers per write statement. A bigger operation runs the same prepared
 * statement once per chunk: its plan, made for a few layers, stays cheap
 * whatever it is given (a plan that joins 10,000 layers by nested loops
 * took seconds; 157 chunks of 64 take a few hundred milliseconds), and the
 * common case, a handful of layers, is still one statement.
 */
const LAYERS_PER_STATEMENT = 64;

function chunks<T>(items: readonly T[]): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += LAYERS_PER_STATEMENT) result.push(items.slice(start, start + LAYERS_PER_STATEMENT));
  return result;
}

/** Which request fields name the part and the location, for NOT_FOUND. */
export interface Place {
  readonly part_id: string;
  readonly location_id: string;
  readonly location_field?: string;
}

/** A locked balance and the names an operation reports. */
export interface LockedBalance {
  readonly part_number: string;
  readonly location_label: string;
  /** After the statement that locked it. */
  readonly qty_on_hand: DecimalValue;
  /** Units of it held for work orders (after the statement that locked it). */
  readonly qty_reserved: DecimalValue;
  /** Credit only: the part's last price. */
  readonly last_price: DecimalValue | null;
}

function label(site: string, name: string): string {
  return `${site}/${name}`;
}

/**
 * A write that adds units (a new layer, a return, a transfer's destination)
 * refused because a balance or layer would pass numeric(18,3): the caller's
 * BALANCE_LIMIT_EXCEEDED. Told by the statement that failed and its
 * SQLSTATE, which Citus relays from a worker; never by a constraint name,
 * which it does not. Nothing else a write can meet is the caller's: the
 * part and the balance are locked first, and locations are never deleted.
 */
async function addingUnits<T>(statement: () => Promise<T>): Promise<T> {
  try {
    return await statement();
  } catch (error) {
    if (sqlState(error) === NUMERIC_OUT_OF_RANGE) throw balanceLimitExceeded();
    throw error;
  }
}

/**
 * Locks the part's balance at the location if `qty` of it is free (not held
 * for a work order); the movements written next take the units off.
 * Undefined when it is not, or the part or location is unknown (shortageAt
 * tells which).
 */
export async function tryDebitBalance(tx: Tx, place: Place, qty: DecimalValue): Promise<LockedBalance | undefined> {
  const [row] = await tx.query<{ part_number: string; site: string; location_name: string; qty_on_hand: string; qty_reserved: string }>(DEBIT_BALANCE, [
    tx.caller.tenant_id,
    place.part_id,
    place.location_id,
    qty.toFixed(QTY_SCALE),
  ]);
  if (!row) return undefined;
  return {
    part_number: row.part_number,
    location_label: label(row.site, row.location_name),
    qty_on_hand: new Decimal(row.qty_on_hand),
    qty_reserved: new Decimal(row.qty_reserved),
    last_price: null,
  };
}

/**
 * Locks the part's balance at the location if `qty` of it is free. A
 * refusal reads the balance under the lock (shortageAt), so its numbers are
 * the ones the request was refused on; if stock arrived since the first
 * statement's snapshot, the debit is simply made under that lock.
 * @throws NotFoundError for an unknown part or location, PartShortageError when it holds less.
 */
export async function debitBalance(tx: Tx, place: Place, qty: DecimalValue): Promise<LockedBalance> {
  const balance = await tryDebitBalance(tx, place, qty);
  if (balance) return balance;
  const refusal = await shortageAt(tx, place, qty);
  if (refusal) throw refusal;
  const locked = await tryDebitBalance(tx, place, qty);
  assert(locked, 'a locked balance with the units free was debited');
  return locked;
}

/**
 * Locks the part and its balance at the location (creating it at 0); the
 * movements written next add `qty` (0: only lock and read it).
 * @throws NotFoundError for an unknown part or location.
 */
export async function creditBalance(tx: Tx, place: Place, qty: DecimalValue): Promise<LockedBalance> {
  const [row] = await tx.query<{
    part_number: string;
    last_price: string | null;
    site: string | null;
    location_name: string | null;
    qty_on_hand: string | null;
    qty_reserved: string | null;
  }>(CREDIT_BALANCE, [tx.caller.tenant_id, place.part_id, place.location_id, qty.toFixed(QTY_SCALE)]);
  if (!row) throw partNotFound(place.part_id);
  if (row.site === null || row.location_name === null || row.qty_on_hand === null) throw locationNotFound(place.location_id, place.location_field);
  return {
    part_number: row.part_number,
    location_label: label(row.site, row.location_name),
    qty_on_hand: new Decimal(row.qty_on_hand),
    qty_reserved: new Decimal(row.qty_reserved ?? 0),
    last_price: row.last_price === null ? null : new Decimal(row.last_price),
  };
}

interface LayerRow {
  id: string;
  qty_on_hand: string;
  unit_cost: string;
  received_us: string;
  receipt_seq: string;
}

export function allocation(batch_id: string, qty: DecimalValue, unit_cost: DecimalValue, received_at: Micros): Allocation {
  return { batch_id, qty, unit_cost, total_cost: qty.mul(unit_cost), received_at };
}

/**
 * Takes `qty` from the oldest layers with stock (FIFO_ORDER: received date,
 * then receipt sequence), under the balance lock, which guards them. Reads a few layers first and more only if needed, so the
 * cost follows the layers touched. The caller holds the balance lock, which
 * guarantees the layers hold at least the balance.
 * @throws TOO_MANY_LAYERS past the per-operation bound; LEDGER_INCONSISTENT
 *   if the layers hold less than the locked balance promised.
 */
export async function takeFifo(tx: Tx, place: Place, qty: DecimalValue, part_number: string): Promise<Allocation[]> {
  const tenant = tx.caller.tenant_id;
  const allocations: Allocation[] = [];
  let remaining = qty;
  let limit: number = LIMITS.layers_first_read;
  let last: LayerRow | undefined;
  while (remaining.gt(0)) {
    const rows = last
      ? await tx.query<LayerRow>(FIFO_NEXT, [tenant, place.part_id, place.location_id, limit, last.received_us, last.receipt_seq])
      : await tx.query<LayerRow>(FIFO_FIRST, [tenant, place.part_id, place.location_id, limit]);
    for (const row of rows) {
      if (allocations.length === LIMITS.layers_per_operation_max) throw tooManyLayers();
      const take = Decimal.min(new Decimal(row.qty_on_hand), remaining);
      allocations.push(allocation(row.id, take, new Decimal(row.unit_cost), toMicros(row.received_us)));
      remaining = remaining.minus(take);
      if (remaining.isZero()) break;
    }
    if (!remaining.isZero() && rows.length < limit) throw ledgerInconsistent(part_number, place.location_id);
    last = rows.at(-1);
    limit = Math.min(limit * 4, LIMITS.layers_per_operation_max);
  }
  return allocations;
}

export interface LayerChanges {
  readonly type: MovementType;
  /** One per distinct layer; qty_delta signed (negative takes units out). */
  readonly changes: readonly { batch_id: string; qty_delta: DecimalValue; unit_cost: DecimalValue }[];
  /** Writes one work-order line per movement (ISSUE, RETURN). */
  readonly work_order_id: string | null;
  readonly receipt_id: string;
  readonly reason: string;
}

export interface WrittenChanges {
  readonly movement_ids: string[];
  readonly work_order_line_ids: string[];
}

/** Changes existing layers and writes their movements (and work-order lines), one statement per chunk of layers. */
export async function changeLayers(tx: Tx, place: Place, input: LayerChanges): Promise<WrittenChanges> {
  const written: WrittenChanges = { movement_ids: [], work_order_line_ids: [] };
  for (const changes of chunks(input.changes)) {
    const rows = await addingUnits(() =>
      tx.query<{ movement_id: string; line_id: string | null }>(CHANGE_LAYERS, [
        tx.caller.tenant_id,
        place.part_id,
        place.location_id,
        changes.map((change) => change.batch_id),
        changes.map((change) => change.qty_delta.toFixed(QTY_SCALE)),
        changes.map((change) => change.unit_cost.toFixed(COST_SCALE)),
        input.type,
        input.work_order_id,
        input.receipt_id,
        input.reason,
        tx.caller.subject,
      ]),
    );
    assert(rows.length === changes.length, 'every layer change wrote one movement');
    tx.count('stock_movements', PARTS_SERVICE, input.type, rows.length);
    written.movement_ids.push(...rows.map((row) => row.movement_id));
    if (input.work_order_id !== null) written.work_order_line_ids.push(...rows.map((row) => row.line_id ?? ''));
  }
  return written;
}

export interface NewLayer {
  readonly type: 'RECEIVE' | 'ADJUSTMENT' | 'COUNT_ADJUST';
  readonly qty: DecimalValue;
  readonly unit_cost: DecimalValue;
  /** Null means now. */
  readonly received_at: Micros | null;
  readonly receipt_id: string;
  readonly reason: string;
  readonly update_last_price: boolean;
}

/** Adds a layer and its movement in one statement. */
export async function addLayer(tx: Tx, place: Place, input: NewLayer): Promise<{ batch: BatchView; movement_id: string }> {
  const [row] = await addingUnits(() =>
    tx.query<BatchRow & { movement_id: string }>(NEW_LAYER, [
      tx.caller.tenant_id,
      place.part_id,
      place.location_id,
      input.qty.toFixed(QTY_SCALE),
      input.unit_cost.toFixed(COST_SCALE),
      input.received_at === null ? null : input.received_at.toString(),
      input.receipt_id,
      input.type,
      input.reason,
      tx.caller.subject,
      input.update_last_price,
    ]),
  );
  assert(row, 'a new layer was written');
  tx.count('stock_movements', PARTS_SERVICE, input.type, 1);
  return { batch: toBatch(row), movement_id: row.movement_id };
}

export interface TransferredLayer {
  readonly batch_id: string;
  readonly destination_batch_id: string;
  readonly out_movement_id: string;
  readonly in_movement_id: string;
}

/** Moves the allocated units to new layers at the destination with both movements, one statement per chunk of layers. */
export async function transferLayers(
  tx: Tx,
  part_id: string,
  from_location_id: string,
  to_location_id: string,
  allocations: readonly Allocation[],
): Promise<TransferredLayer[]> {
  const moved: TransferredLayer[] = [];
  for (const taken of chunks(allocations)) {
    const rows = await addingUnits(() =>
      tx.query<TransferredLayer>(TRANSFER_LAYERS, [
        tx.caller.tenant_id,
        part_id,
        from_location_id,
        to_location_id,
        taken.map((layer) => layer.batch_id),
        taken.map((layer) => layer.qty.toFixed(QTY_SCALE)),
        tx.caller.subject,
      ]),
    );
    assert(rows.length === taken.length, 'every transferred layer got a new layer and two movements');
    tx.count('stock_movements', PARTS_SERVICE, 'TRANSFER_OUT', rows.length);
    tx.count('stock_movements', PARTS_SERVICE, 'TRANSFER_IN', rows.length);
    moved.push(...rows);
  }
  return moved;
}
