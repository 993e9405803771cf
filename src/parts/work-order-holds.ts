/**
 * Parts held for work orders (issue 11): a hold sits at the part's balance
 * at a location, never at a layer, so FIFO still decides at issue time which
 * layers go and at what cost. part_balances.qty_reserved is the sum of open
 * holds, kept by a trigger (migration 0006); CHECK qty_reserved <=
 * qty_on_hand makes every stock path that would take held units fail, and
 * the paths check free stock (on hand - reserved) before that.
 *
 * Lock order, as every parts path: the balance row(s) first (several in
 * (part id, location id) order), then the holds.
 */
import { sql, type TransactionRunner, type Tx } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';
import { Decimal, type DecimalValue } from '../shared/decimal.js';
import { assert, NotFoundError } from '../shared/errors.js';
import type { HoldExpiryTask } from '../shared/hold-sweeper.js';
import type { IdempotencyStore } from '../shared/idempotency.js';
import { locationNotFound, partNotFound, PartShortageError, WorkOrderReservationRefusedError } from './errors.js';
import { PARTS_SERVICE, partsMethod } from './methods.js';
import { QTY_SCALE, type Micros } from './model.js';
import { micros, toMicros } from './rows.js';
import { DIAGNOSE } from './stock-statements.js';

export interface WorkOrderHoldView {
  readonly work_order_id: string;
  readonly part_id: string;
  readonly part_number: string;
  readonly location_id: string;
  readonly qty_held: DecimalValue;
  readonly qty_issued: DecimalValue;
  readonly qty_released: DecimalValue;
  readonly qty_expired: DecimalValue;
  readonly expires_at: Micros | null;
  readonly created_at: Micros;
  readonly updated_at: Micros;
}

interface HoldRow {
  work_order_id: string;
  part_id: string;
  part_number: string;
  location_id: string;
  qty_held: string;
  qty_issued: string;
  qty_released: string;
  qty_expired: string;
  expires_us: string | null;
  created_us: string;
  updated_us: string;
}

/**
 * A hold's view, from hold columns of `hold` and the part number of `part`.
 * A hold past its expire time counts as expired from that moment, swept or not.
 */
function holdColumns(hold: string, part: string): string {
  return `${hold}.work_order_id, ${hold}.part_id, ${part}.part_number, ${hold}.location_id,
  case when ${hold}.expires_at <= now() then 0 else ${hold}.qty_held end as qty_held, ${hold}.qty_issued, ${hold}.qty_released,
  ${hold}.qty_expired + case when ${hold}.expires_at <= now() then ${hold}.qty_held else 0 end as qty_expired,
  ${micros(`${hold}.expires_at`)} as expires_us, ${micros(`${hold}.created_at`)} as created_us, ${micros(`${hold}.updated_at`)} as updated_us`;
}

function toHold(row: HoldRow): WorkOrderHoldView {
  return {
    work_order_id: row.work_order_id,
    part_id: row.part_id,
    part_number: row.part_number,
    location_id: row.location_id,
    qty_held: new Decimal(row.qty_held),
    qty_issued: new Decimal(row.qty_issued),
    qty_released: new Decimal(row.qty_released),
    qty_expired: new Decimal(row.qty_expired),
    expires_at: row.expires_us === null ? null : toMicros(row.expires_us),
    created_at: toMicros(row.created_us),
    updated_at: toMicros(row.updated_us),
  };
}

/**
 * Locks the balance if it has `qty` free (on hand - reserved) and adds to
 * the work order's hold there, in one call (migration 0014a: Citus runs it
 * whole on the tenant's node); the hold's trigger adds it to reserved. The
 * balance is reported from its locked row plus the units held.
 * $1 tenant, $2 work order, $3 part, $4 location, $5 qty, $6 lifetime in ms
 * or null (never expires; the latest reservation sets it).
 */
const RESERVE = sql(
  'parts_reserve_for_work_order',
  `select ${holdColumns('h', 'h')}, h.qty_on_hand, h.qty_reserved
   from stockroom_tenant_parts_reserve_for_work_order($1, $2, $3, $4, $5::numeric, $6::bigint) h`,
);

/**
 * The refusal when a place has too little free stock (or is unknown), with
 * numbers read under the balance's lock (DIAGNOSE locks it); undefined when,
 * under that lock, `requested` is free after all (stock arrived since the
 * caller's snapshot), and the caller may take it.
 */
export async function shortageAt(
  tx: Tx,
  place: { part_id: string; location_id: string; location_field?: string },
  requested: DecimalValue,
): Promise<Error | undefined> {
  const [why] = await tx.query<{ part_number: string | null; location_exists: boolean; qty_on_hand: string | null; qty_reserved: string | null }>(DIAGNOSE, [
    tx.caller.tenant_id,
    place.part_id,
    place.location_id,
  ]);
  if (why.part_number === null) return partNotFound(place.part_id);
  if (!why.location_exists) return locationNotFound(place.location_id, place.location_field);
  const on_hand = new Decimal(why.qty_on_hand ?? 0);
  const reserved = new Decimal(why.qty_reserved ?? 0);
  if (on_hand.minus(reserved).gte(requested)) return undefined;
  return new PartShortageError(why.part_number, place.part_id, place.location_id, requested, on_hand.minus(reserved), undefined, { on_hand, reserved });
}

/**
 * The work order's own hold at a balance, taken first by an issue: locks the
 * balance (first, as every path), then moves up to $5 units of the hold
 * from held to issued (the trigger takes them off reserved). A lapsed hold
 * is not the work order's any more. Answers the units taken (0: no hold).
 * $1 tenant, $2 work order, $3 part, $4 location.
 */
const TAKE_OWN_HOLD = sql(
  'parts_take_own_hold',
  `with b as (
     select 1 from part_balances b where b.tenant_id = $1 and b.part_id = $3 and b.location_id = $4 for update
   ), cur as (
     select h.qty_held from part_work_order_holds h, b
     where h.tenant_id = $1 and h.work_order_id = $2 and h.part_id = $3 and h.location_id = $4
       and h.qty_held > 0 and (h.expires_at is null or h.expires_at > now())
     for update of h
   ), u as (
     update part_work_order_holds h
       set qty_held = h.qty_held - least(cur.qty_held, $5::numeric), qty_issued = h.qty_issued + least(cur.qty_held, $5::numeric), updated_at = now()
     from cur
     where h.tenant_id = $1 and h.work_order_id = $2 and h.part_id = $3 and h.location_id = $4
     returning least(cur.qty_held, $5::numeric) as taken
   )
   select coalesce((select taken from u), 0) as taken`,
);

export async function takeOwnHold(tx: Tx, work_order_id: string, place: { part_id: string; location_id: string }, qty: DecimalValue): Promise<DecimalValue> {
  const [row] = await tx.query<{ taken: string }>(TAKE_OWN_HOLD, [tx.caller.tenant_id, work_order_id, place.part_id, place.location_id, qty.toFixed(QTY_SCALE)]);
  return new Decimal(row.taken);
}

// The balances (lock order) of the work order's open holds matching the filter; $3/$4 may be null.
const LOCK_HELD_BALANCES = sql(
  'parts_lock_work_order_held_balances',
  `select b.part_id, b.location_id from part_balances b
   where b.tenant_id = $1 and (b.part_id, b.location_id) in (
     select h.part_id, h.location_id from part_work_order_holds h
     where h.tenant_id = $1 and h.work_order_id = $2 and h.qty_held > 0 and (h.expires_at is null or h.expires_at > now())
       and ($3::uuid is null or h.part_id = $3::uuid) and ($4::uuid is null or h.location_id = $4::uuid))
   order by b.part_id, b.location_id
   for update`,
);

// Under the balances' locks: release $5 units (null: all) of each selected open hold.
const RELEASE = sql(
  'parts_release_work_order_holds',
  `with cur as (
     select h.work_order_id, h.part_id, h.location_id, coalesce($5::numeric, h.qty_held) as moved from part_work_order_holds h
     where h.tenant_id = $1 and h.work_order_id = $2 and h.qty_held > 0 and h.qty_held >= coalesce($5::numeric, 0)
       and (h.expires_at is null or h.expires_at > now())
       and ($3::uuid is null or h.part_id = $3::uuid) and ($4::uuid is null or h.location_id = $4::uuid)
   )
   update part_work_order_holds h
     set qty_held = h.qty_held - cur.moved, qty_released = h.qty_released + cur.moved, updated_at = now()
   from cur
   where h.tenant_id = $1 and h.work_order_id = cur.work_order_id and h.part_id = cur.part_id and h.location_id = cur.location_id
   returning cur.moved`,
);

const HOLDS_OF = sql(
  'parts_work_order_holds_of',
  `select ${holdColumns('h', 'p')} from part_work_order_holds h join parts p on p.tenant_id = h.tenant_id and p.id = h.part_id
   where h.tenant_id = $1 and h.work_order_id = $2
     and ($3::uuid is null or h.part_id = $3::uuid) and ($4::uuid is null or h.location_id = $4::uuid)
   order by h.part_id, h.location_id
   limit $5`,
);

/** The most holds one release touches or reports (bounds the response). */
const HOLDS_PER_RELEASE_MAX = 1_000;

export interface ReserveForWorkOrderInput {
  readonly work_order_id: string;
  readonly part_id: string;
  readonly location_id: string;
  readonly qty: DecimalValue;
  readonly ttl_ms?: number;
}

export interface ReleaseForWorkOrderInput {
  readonly work_order_id: string;
  readonly part_id: string | null;
  readonly location_id: string | null;
  readonly qty: DecimalValue | null;
}

export interface ReserveForWorkOrderResult {
  readonly hold: WorkOrderHoldView;
  readonly qty_on_hand: DecimalValue;
  readonly qty_reserved: DecimalValue;
  readonly message: string;
}

export interface ReleaseForWorkOrderResult {
  readonly holds: readonly WorkOrderHoldView[];
  readonly qty_released: DecimalValue;
}

const qty = (value: DecimalValue) => value.toFixed(QTY_SCALE);

export class WorkOrderHolds {
  constructor(
    private readonly runner: TransactionRunner,
    private readonly idempotency: IdempotencyStore,
  ) {}

  reserve(context: CallContext, input: ReserveForWorkOrderInput, key: string | undefined): Promise<ReserveForWorkOrderResult> {
    return this.runner.run(context, (tx) =>
      this.idempotency.run(tx, { method: partsMethod('ReservePartsForWorkOrder'), key, input }, async () => {
        const reserve = () =>
          tx.query<HoldRow & { qty_on_hand: string; qty_reserved: string }>(RESERVE, [
            tx.caller.tenant_id,
            input.work_order_id,
            input.part_id,
            input.location_id,
            qty(input.qty),
            input.ttl_ms ?? null,
          ]);
        let [row] = await reserve();
        if (!row) {
          // Refused with numbers read under the balance's lock, or (stock arrived meanwhile) reserved under it.
          const refusal = await shortageAt(tx, input, input.qty);
          if (refusal) throw refusal;
          [row] = await reserve();
          assert(row, 'a locked balance with the units free was reserved from');
        }
        const hold = toHold(row);
        return {
          hold,
          qty_on_hand: new Decimal(row.qty_on_hand),
          qty_reserved: new Decimal(row.qty_reserved),
          message: `Reserved ${qty(input.qty)} of ${hold.part_number} for ${input.work_order_id}`,
        };
      }),
    );
  }

  release(context: CallContext, input: ReleaseForWorkOrderInput, key: string | undefined): Promise<ReleaseForWorkOrderResult> {
    return this.runner.run(context, (tx) =>
      this.idempotency.run(tx, { method: partsMethod('ReleaseWorkOrderReservation'), key, input }, async () => {
        const tenant = tx.caller.tenant_id;
        const selection = [tenant, input.work_order_id, input.part_id, input.location_id];
        const locked = await tx.query(LOCK_HELD_BALANCES, selection);
        const moved = locked.length === 0 ? [] : await tx.query<{ moved: string }>(RELEASE, [...selection, input.qty === null ? null : qty(input.qty)]);
        const holds = (await tx.query<HoldRow>(HOLDS_OF, [...selection, HOLDS_PER_RELEASE_MAX])).map(toHold);
        if (holds.length === 0) throw new NotFoundError('work order reservation', input.work_order_id, 'work_order_id');
        if (moved.length === 0) throw new WorkOrderReservationRefusedError(input.work_order_id, input.qty, holds);
        return { holds, qty_released: moved.reduce((sum, row) => sum.plus(row.moved), new Decimal(0)) };
      }),
    );
  }
}

/**
 * The sweeper's release of due work-order holds of one tenant ($1), at most
 * $2: lock the balances (lock order) of due holds, skipping balances another
 * transaction holds, then lock and re-check the holds under them; the
 * trigger takes the expired units off reserved. See the inventory sweep.
 */
const SWEEP_PARTS = sql(
  'parts_sweep_expired_holds',
  `with due as (
     select h.part_id, h.location_id from part_work_order_holds h
     where h.tenant_id = $1 and h.qty_held > 0 and h.expires_at <= now()
     order by h.expires_at limit $2
   ), locked as (
     select b.part_id, b.location_id from part_balances b
     where b.tenant_id = $1 and (b.part_id, b.location_id) in (select part_id, location_id from due)
     order by b.part_id, b.location_id
     for update skip locked
   ), lines as (
     select h.work_order_id, h.part_id, h.location_id, h.qty_held from part_work_order_holds h
     where h.tenant_id = $1 and (h.part_id, h.location_id) in (select part_id, location_id from locked)
       and h.qty_held > 0 and h.expires_at <= now()
     order by h.part_id, h.location_id, h.work_order_id
     limit $2
     for update
   ), gone as (
     update part_work_order_holds h set qty_held = h.qty_held - x.qty_held, qty_expired = h.qty_expired + x.qty_held, updated_at = now()
     from lines x
     where h.tenant_id = $1 and h.work_order_id = x.work_order_id and h.part_id = x.part_id and h.location_id = x.location_id
     returning 1
   )
   select count(*)::int as released from gone`,
);

const DUE_PARTS_TENANTS = sql(
  'parts_due_hold_tenants',
  `select distinct d.tenant_id from (
     select h.tenant_id from part_work_order_holds h
     where h.qty_held > 0 and h.expires_at <= now()
     order by h.expires_at limit $1) d`,
);

export const PARTS_HOLD_EXPIRY: HoldExpiryTask = {
  name: 'parts',
  grpc_service: PARTS_SERVICE,
  due_tenants: DUE_PARTS_TENANTS,
  sweep: SWEEP_PARTS,
};
