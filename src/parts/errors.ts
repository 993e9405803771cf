/**
 * Failures of the parts rules that a client acts on, with the numbers it
 * needs. The server maps them like every DomainError; module.ts adds the
 * typed details (InsufficientStockDetail, ReturnExceedsIssuedDetail).
 */
import { FailedPreconditionError, InsufficientStockError, NotFoundError } from '../shared/errors.js';
import { Decimal, type DecimalValue } from '../shared/decimal.js';
import { LIMITS } from './limits.js';
import { QTY_SCALE } from './model.js';
import type { WorkOrderHoldView } from './work-order-holds.js';

const qty = (value: DecimalValue) => value.toFixed(QTY_SCALE);

/** Not enough units at a location, or in the layer a return to vendor names. */
export class PartShortageError extends InsufficientStockError {
  constructor(
    readonly part_number: string,
    readonly part_id: string,
    readonly location_id: string,
    requested: DecimalValue,
    available: DecimalValue,
    readonly batch_id?: string,
    /** The location's balance, where held units made the difference: available = on_hand - reserved. */
    readonly stock?: { readonly on_hand: DecimalValue; readonly reserved: DecimalValue },
  ) {
    super([{ key: part_number, id: part_id, location_id, requested: qty(requested), available: qty(available) }], 'partNumber');
    if (batch_id !== undefined) this.metadata.batchId = batch_id;
    if (stock !== undefined) {
      this.metadata.qtyOnHand = qty(stock.on_hand);
      this.metadata.qtyReserved = qty(stock.reserved);
    }
  }
}

/** A return asked for more than the work order holds net of earlier returns. */
export class ReturnExceedsIssuedError extends FailedPreconditionError {
  constructor(
    readonly work_order_id: string,
    readonly part_id: string,
    readonly part_number: string,
    readonly location_id: string,
    readonly requested: string,
    readonly net_issued: string,
  ) {
    super(
      `work order "${work_order_id}" has ${net_issued} of ${part_number} from this location to return; ${requested} was requested`,
      'RETURN_EXCEEDS_ISSUED',
      { workOrderId: work_order_id, partId: part_id, partNumber: part_number, locationId: location_id, requested, netIssued: net_issued },
    );
  }
}

/**
 * ReleaseWorkOrderReservation released nothing: the work order holds less
 * than the request named (RESERVATION_EXCEEDED), or what it held there
 * expired (RESERVATION_EXPIRED). Carries the selected holds as read.
 */
export class WorkOrderReservationRefusedError extends FailedPreconditionError {
  constructor(
    readonly work_order_id: string,
    /** The units named, or null when the request released everything selected. */
    readonly requested: DecimalValue | null,
    readonly holds: readonly WorkOrderHoldView[],
  ) {
    const held = holds.reduce((sum, hold) => sum.plus(hold.qty_held), new Decimal(0));
    const expired = holds.reduce((sum, hold) => sum.plus(hold.qty_expired), new Decimal(0));
    const requested_text = requested === null ? '' : qty(requested);
    const only_expired = held.isZero() && expired.gt(0);
    super(
      only_expired
        ? `work order "${work_order_id}" holds nothing here any more: its hold expired`
        : `work order "${work_order_id}" holds ${qty(held)} here, less than the ${requested_text} requested`,
      only_expired ? 'RESERVATION_EXPIRED' : 'RESERVATION_EXCEEDED',
      { workOrderId: work_order_id, requested: requested_text, held: qty(held), expired: qty(expired), holdCount: String(holds.length) },
    );
  }
}

export function tooManyLayers(): FailedPreconditionError {
  return new FailedPreconditionError(
    `the operation would touch more than ${LIMITS.layers_per_operation_max} layers; split it into smaller quantities`,
    'TOO_MANY_LAYERS',
    { layersMax: String(LIMITS.layers_per_operation_max) },
  );
}

/** The layers behind a locked balance hold less than the balance says: data was changed outside the service. */
export function ledgerInconsistent(part_number: string, location_id: string): FailedPreconditionError {
  return new FailedPreconditionError(
    `the layers of ${part_number} at location ${location_id} disagree with its balance; run Reconcile and correct the data`,
    'LEDGER_INCONSISTENT',
    { partNumber: part_number, locationId: location_id },
  );
}

export function balanceLimitExceeded(): FailedPreconditionError {
  return new FailedPreconditionError('the quantity at the location would exceed 999,999,999,999,999.999 units', 'BALANCE_LIMIT_EXCEEDED', {
    qtyMax: '999999999999999.999',
  });
}

export function partNotFound(part_id: string, field = 'part_id'): NotFoundError {
  return new NotFoundError('part', part_id, field);
}

export function locationNotFound(location_id: string, field = 'location_id'): NotFoundError {
  return new NotFoundError('location', location_id, field);
}
