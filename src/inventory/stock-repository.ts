/**
 * The SQL of the stock paths: prepared statements, few round trips.
 *
 * Balances are derived by the database (migration 0004b): these statements
 * write facts, a hold or a movement, and triggers apply them to the item's
 * on_hand and reserved, which the runtime role cannot write. A statement
 * therefore locks the item row itself (SELECT ... FOR UPDATE, whose WHERE is
 * re-checked on the current row after any lock wait), writes the fact, and
 * reports the item as the trigger leaves it: the locked values plus the
 * change (nothing else can change a locked row).
 *
 * The order flow locks every item row of a request in one statement, in id
 * order (so two orders naming the same products in opposite order queue
 * instead of deadlocking), checks in memory, then writes reservation lines
 * or movements in one statement built on unnest().
 * Reservation rows are read or changed only after their items are locked:
 * every path that changes a reservation holds its item's lock, so what it
 * sees of a hold is current.
 *
 * Single-product changes (inbound, adjust, return, damage) lock, check and
 * write in one statement.
 *
 * The order flow's statements are exported for the benchmark's raw-db
 * ceiling (bench/load/raw-db.ts), which runs this very SQL without the
 * service around it.
 */
import { sql, type Tx } from '../db/transaction.js';
import { LIMITS } from './limits.js';
import type { MovementType } from './model.js';
import { ITEM_COLUMNS, type HoldRow, type ItemRow, type LapsedHoldRow, type MovementRow, type Text } from './rows.js';

/** True when the line's expire time has passed (its held units are expired). */
export const LAPSED = `coalesce(r.expires_at <= now(), false) as lapsed`;

/**
 * A line as its reader should see it: units past their expire time are
 * expired from that moment, whether or not the sweeper has released them
 * yet (Commit and Release refuse them from that moment too).
 */
export const EFFECTIVE_HOLD = `case when r.expires_at <= now() then 0 else r.held end as held,
  r.expired + case when r.expires_at <= now() then r.held else 0 end as expired, r.expires_at`;

export const LOCK_ITEMS_BY_PRODUCT = sql(
  'inventory_lock_items_by_product',
  `select ${ITEM_COLUMNS} from inventory_items i
   where i.tenant_id = $1 and i.product_id = any($2::text[])
   order by i.id
   for update`,
);

const LOCK_ITEMS_HELD_BY = sql(
  'inventory_lock_items_held_by',
  `select ${ITEM_COLUMNS} from inventory_items i
   where i.tenant_id = $1
     and i.id in (select r.item_id from inventory_reservations r where r.tenant_id = $1 and r.reference = $2 and r.held > 0
                  and (r.expires_at is null or r.expires_at > now()))
   order by i.id
   for update`,
);

const READ_HOLDS = sql(
  'inventory_read_holds',
  `select r.item_id, r.held, r.committed, r.released, r.expired, r.expires_at, ${LAPSED}, r.created_at as line_created_at, r.updated_at as line_updated_at
   from inventory_reservations r
   where r.tenant_id = $1 and r.reference = $2 and r.item_id = any($3::uuid[])`,
);

const REFERENCE_EXISTS = sql(
  'inventory_reference_exists',
  `select exists (select 1 from inventory_reservations r where r.tenant_id = $1 and r.reference = $2) as known`,
);

const RESERVATION_LINES = sql(
  'inventory_reservation_lines',
  `select r.item_id, i.product_id, ${EFFECTIVE_HOLD}, ${LAPSED}, r.committed, r.released,
          r.created_at as line_created_at, r.updated_at as line_updated_at
   from inventory_reservations r
   join inventory_items i on i.tenant_id = r.tenant_id and i.id = r.item_id
   where r.tenant_id = $1 and r.reference = $2
   order by i.product_id
   limit $3`,
);

export const READ_AVAILABILITY = sql(
  'inventory_read_availability',
  `select i.id, i.product_id, i.on_hand, i.reserved from inventory_items i
   where i.tenant_id = $1 and i.product_id = any($2::text[])`,
);

// Locked: a refusal reports the numbers it was refused on.
const LOCK_BALANCE = sql(
  'inventory_lock_balance',
  `select i.id, i.on_hand, i.reserved from inventory_items i where i.tenant_id = $1 and i.product_id = $2 for update`,
);

/**
 * The columns of a locked item row `c` as the triggers leave it after the
 * statement's change: on_hand and reserved given as expressions.
 */
function itemAfter(on_hand: string, reserved: string): string {
  return `c.id, c.product_id, c.sku, c.name, ${on_hand} as on_hand, ${reserved} as reserved, c.reorder_point, c.created_at, now() as updated_at`;
}

const LINE_COLUMNS = `l.item_id, l.held, l.committed, l.released, l.expired, l.expires_at, l.created_at as line_created_at, l.updated_at as line_updated_at`;

/*
 * Non-immutable functions (now()) appear only in an insert's list and in
 * plain SELECTs, never in ON CONFLICT ... DO UPDATE or RETURNING (which a
 * distributed engine such as Citus refuses there): the update takes
 * excluded.updated_at, the new row's default (now()), instead.
 */

/**
 * The expire time a Reserve gives its lines: none, or now + $5 ms. The
 * latest Reserve of a line sets it (ON CONFLICT ... expires_at =
 * excluded.expires_at), so units added to an expired line do not inherit
 * its past expire time. Two statements rather than one with a nullable
 * parameter, so the common reserve without a lifetime stays as it was.
 */
function expiry(expiring: boolean): string {
  return expiring ? `now() + $5::bigint * interval '1 millisecond'` : `null::timestamptz`;
}

// The items are locked (lockItemsByProduct); the holds' trigger adds to reserved.
// One INSERT ... SELECT from the locked items, with no CTE: Citus runs it on
// the tenant's shard in one step (an INSERT inside a CTE it never does). The
// items after the change are the locked rows plus the quantities (reservedAfter).
// $2 item ids, $3 quantities (both in lock order), $4 reference, $5 lifetime in ms (expiring only).
const applyReserve = (name: string, expiring: boolean) => sql(
  name,
  `insert into inventory_reservations as h (tenant_id, reference, item_id, held, expires_at)
   select i.tenant_id, $4, i.id, r.quantity, ${expiry(expiring)}
   from inventory_items i join unnest($2::uuid[], $3::bigint[]) with ordinality as r(item_id, quantity, ord) on r.item_id = i.id
   where i.tenant_id = $1
   order by r.ord
   on conflict (tenant_id, reference, item_id) do update
     set held = h.held + excluded.held, expires_at = excluded.expires_at, updated_at = excluded.updated_at
   returning h.item_id, h.held, h.committed, h.released, h.expired, h.expires_at, h.created_at as line_created_at, h.updated_at as line_updated_at`,
);

/** A locked item as the holds' trigger leaves it after adding `quantity` to reserved, with its written line. */
function reservedAfter(item: ItemRow, quantity: bigint, line: HoldRow): LineRow {
  return { ...item, reserved: String(BigInt(item.reserved) + quantity), updated_at: line.line_updated_at, ...line };
}

export const APPLY_RESERVE = applyReserve('inventory_apply_reserve', false);
const APPLY_RESERVE_EXPIRING = applyReserve('inventory_apply_reserve_expiring', true);

/**
 * Reserve of a single product decided in one call, by the function of
 * migration 0016a: it locks the item (re-read after any lock wait), and if
 * it has the units writes the hold (its trigger adds it to reserved). A
 * refusal answers with the item it was checked against and writes nothing,
 * so the call is the transaction's last statement and its COMMIT travels
 * with it (Tx.queryLast): a Reserve of one product is one round trip, and a
 * flash sale's hot row is held for that call and the commit. No row: the
 * product is unknown. A function rather than one statement with
 * data-modifying CTEs, so that Citus runs it whole on the tenant's node.
 * $2 product, $3 quantity, $4 reference, $5 lifetime in ms (null: none).
 */
export const RESERVE_PRODUCT = sql(
  'inventory_reserve_product',
  `select * from stockroom_tenant_reserve_product($1, $2, $3::bigint, $4, $5::bigint)`,
);

/**
 * CommitOutbound of a single product decided in one call (migration
 * 0016a): it locks the item and reads the reference's line of it; if the
 * line holds the units and has not lapsed, it writes the OUTBOUND movement
 * (its trigger moves them from held to committed and off on_hand and
 * reserved). A refusal answers with the item and the line as they stand
 * (line columns null without a line) and writes nothing. As RESERVE_PRODUCT,
 * the transaction's last statement. No row: the product is unknown.
 * $2 product, $3 quantity, $4 reference, $5 notes, $6 author.
 */
export const COMMIT_PRODUCT = sql(
  'inventory_commit_product',
  `select * from stockroom_tenant_commit_product($1, $2, $3::bigint, $4, $5, $6)`,
);

/**
 * The holds of a coalesced batch of Reserves (src/inventory/reserve-batch.ts)
 * of one item, which the batch has locked (lockItemsByProduct) and checked:
 * one line per reference (a batch never names a reference twice), each with
 * its own lifetime (null: never expires). References in sorted order, so
 * the reference locks that new lines take (migration 0004c) follow one
 * order in every batch. The holds' triggers add each to reserved and write
 * each RESERVATION_CREATED event, as for a Reserve alone. Selected from the
 * (locked) item row, whose tenant column is the insert's: so Citus runs it on
 * the tenant's shard in one step, not through the coordinator.
 * $2 item id, $3 references, $4 quantities, $5 lifetimes in ms (or null).
 */
export const RESERVE_LINES = sql(
  'inventory_reserve_lines',
  `insert into inventory_reservations as h (tenant_id, reference, item_id, held, expires_at)
   select i.tenant_id, u.reference, i.id, u.quantity, now() + u.ttl_ms * interval '1 millisecond'
   from inventory_items i cross join unnest($3::text[], $4::bigint[], $5::bigint[]) as u(reference, quantity, ttl_ms)
   where i.tenant_id = $1 and i.id = $2::uuid
   order by u.reference
   on conflict (tenant_id, reference, item_id) do update
     set held = h.held + excluded.held, expires_at = excluded.expires_at, updated_at = excluded.updated_at
   returning h.reference, h.item_id, h.held, h.committed, h.released, h.expired, h.expires_at,
     h.created_at as line_created_at, h.updated_at as line_updated_at`,
);

// Release and commit check the hold in the same statement: a line whose hold
// is too small writes nothing, so fewer rows come back and the caller
// refuses the request (the transaction rolls back). The items are locked
// (lockItemsByProduct), so the holds read here are current.
const APPLY_RELEASE = sql(
  'inventory_apply_release',
  `with request as (
     select * from unnest($2::uuid[], $3::bigint[]) as u(item_id, quantity)
   ), l as (
     update inventory_reservations h
       set held = h.held - r.quantity, released = h.released + r.quantity, updated_at = now()
     from request r
     where h.tenant_id = $1 and h.reference = $4 and h.item_id = r.item_id and h.held >= r.quantity
       and (h.expires_at is null or h.expires_at > now())
     returning h.item_id, h.held, h.committed, h.released, h.expired, h.expires_at, h.created_at, h.updated_at, r.quantity as moved
   ), c as (
     select ${ITEM_COLUMNS} from inventory_items i where i.tenant_id = $1 and i.id = any($2::uuid[])
   )
   select ${itemAfter('c.on_hand', 'c.reserved - l.moved')}, ${LINE_COLUMNS} from c join l on l.item_id = c.id`,
);

// The OUTBOUND movement is the commit: its trigger moves the hold to
// committed and takes the units off on_hand and reserved. A lapsed line is
// not committed (expired from its expire time on, swept or not). The
// function of migration 0013a reads the lines, then writes the movements
// (so Citus runs it whole on the tenant's node, in one step), and reports
// each line as read plus the move; the items after are the locked rows
// less what moved (applyCommit).
// $5 notes, $6 author of the movements.
export const APPLY_COMMIT = sql(
  'inventory_apply_commit',
  `select * from stockroom_tenant_apply_commit($1, $2::uuid[], $3::bigint[], $4, $5, $6)`,
);

// Lock, check and write in one call (migration 0013a): the movement's
// trigger applies it to on_hand and fills on_hand_after.
// $2 product, $3 signed change of on_hand, $4 type, $5 reference, $6 notes, $7 author, $8 on_hand ceiling.
const APPLY_STOCK_CHANGE = sql(
  'inventory_apply_stock_change',
  `select * from stockroom_tenant_apply_stock_change($1, $2, $3::bigint, $4, $5, $6, $7, $8::bigint)`,
);

export type LineRow = ItemRow & HoldRow;

/** What a call that decides by itself answers: the rows it wrote, or what it refused against. */
export type Decided<Written, Hold = never> = { admitted: true; row: Written } | { admitted: false; item: ItemRow; hold?: Hold };
export type CommitRow = LineRow & Omit<MovementRow, 'item_id' | 'product_id'>;
export type StockChangeRow = ItemRow & Omit<MovementRow, 'item_id' | 'product_id'>;

export interface Balance {
  id: string;
  on_hand: string;
  reserved: string;
}

/** A change to apply to locked items: item ids and units, in lock order. */
export interface ItemQuantities {
  readonly item_ids: readonly string[];
  readonly quantities: readonly bigint[];
}

function quantities(change: ItemQuantities): string[] {
  return change.quantities.map(String);
}

export const stockRepository = {
  /** Locks the items of these products in id order; products the tenant lacks are simply absent. */
  lockItemsByProduct(tx: Tx, product_ids: readonly string[]): Promise<ItemRow[]> {
    return tx.query<ItemRow>(LOCK_ITEMS_BY_PRODUCT, [tx.caller.tenant_id, product_ids]);
  },

  /** Locks, in id order, every item the reference still holds units of. */
  lockItemsHeldBy(tx: Tx, reference: string): Promise<ItemRow[]> {
    return tx.query<ItemRow>(LOCK_ITEMS_HELD_BY, [tx.caller.tenant_id, reference]);
  },

  /** The reference's lines for these items; call only with the items locked. */
  async readHolds(tx: Tx, reference: string, item_ids: readonly string[]): Promise<Map<string, LapsedHoldRow>> {
    const rows = await tx.query<LapsedHoldRow>(READ_HOLDS, [tx.caller.tenant_id, reference, item_ids]);
    return new Map(rows.map((row) => [row.item_id, row]));
  },

  async referenceExists(tx: Tx, reference: string): Promise<boolean> {
    const [row] = await tx.query<{ known: boolean }>(REFERENCE_EXISTS, [tx.caller.tenant_id, reference]);
    return row?.known === true;
  },

  /** Every line of a reference with its product id, ordered by product id. */
  reservationLines(tx: Tx, reference: string, limit: number): Promise<(LapsedHoldRow & { product_id: string })[]> {
    return tx.query(RESERVATION_LINES, [tx.caller.tenant_id, reference, limit]);
  },

  /** Balances without locks: one consistent snapshot. */
  readAvailability(tx: Tx, product_ids: readonly string[]): Promise<(Balance & { product_id: string })[]> {
    return tx.query(READ_AVAILABILITY, [tx.caller.tenant_id, product_ids]);
  },

  /** Locks the product's item and reads its balance (for a refusal's numbers). */
  async lockBalance(tx: Tx, product_id: string): Promise<Balance | undefined> {
    const [row] = await tx.query<Balance>(LOCK_BALANCE, [tx.caller.tenant_id, product_id]);
    return row;
  },

  /** A Reserve of one product, decided and committed in one call (see RESERVE_PRODUCT); undefined: no such product. */
  async reserveProduct(tx: Tx, reference: string, line: { product_id: string; quantity: bigint }, ttl_ms?: number): Promise<Decided<LineRow> | undefined> {
    const [row] = await tx.queryLast<LineRow & { admitted: boolean }>(RESERVE_PRODUCT, [tx.caller.tenant_id, line.product_id, String(line.quantity), reference, ttl_ms ?? null]);
    if (row === undefined) return undefined;
    const { admitted, ...written } = row;
    return admitted ? { admitted, row: written } : { admitted, item: written };
  },

  /** A CommitOutbound of one product, decided and committed in one call (see COMMIT_PRODUCT); undefined: no such product. */
  async commitProduct(tx: Tx, reference: string, notes: string, line: { product_id: string; quantity: bigint }): Promise<Decided<CommitRow, LapsedHoldRow> | undefined> {
    const params = [tx.caller.tenant_id, line.product_id, String(line.quantity), reference, notes, tx.caller.subject];
    const [row] = await tx.queryLast<CommitRow & LapsedHoldRow & { admitted: boolean }>(COMMIT_PRODUCT, params);
    if (row === undefined) return undefined;
    const { admitted, lapsed, ...written } = row;
    if (admitted) return { admitted, row: written };
    return { admitted, item: written, hold: written.item_id === null ? undefined : { ...written, lapsed } };
  },

  /** Writes the holds of a checked batch on one locked item (see RESERVE_LINES); one row per reference. `last`: nothing follows it (Tx.queryLast). */
  reserveLines(tx: Tx, item_id: string, holds: readonly { reference: string; quantity: bigint; ttl_ms?: number }[], last: boolean): Promise<(HoldRow & { reference: string })[]> {
    const params = [
      tx.caller.tenant_id,
      item_id,
      holds.map((hold) => hold.reference),
      holds.map((hold) => String(hold.quantity)),
      holds.map((hold) => (hold.ttl_ms === undefined ? null : String(hold.ttl_ms))),
    ];
    return last ? tx.queryLast(RESERVE_LINES, params) : tx.query(RESERVE_LINES, params);
  },

  /** `locked`: the change's items as locked (lockItemsByProduct); ttl_ms: the lines' lifetime; undefined, they never expire. */
  async applyReserve(tx: Tx, reference: string, change: ItemQuantities, locked: Iterable<ItemRow>, ttl_ms?: number): Promise<LineRow[]> {
    const params = [tx.caller.tenant_id, change.item_ids, quantities(change), reference];
    const lines = await (ttl_ms === undefined ? tx.query<HoldRow>(APPLY_RESERVE, params) : tx.query<HoldRow>(APPLY_RESERVE_EXPIRING, [...params, ttl_ms]));
    const items = new Map([...locked].map((item) => [item.id, item]));
    const quantity_by_item = new Map(change.item_ids.map((id, index) => [id, change.quantities[index]]));
    return lines.map((line) => reservedAfter(items.get(line.item_id)!, quantity_by_item.get(line.item_id)!, line));
  },

  /** Returns one row per line that the reference held enough for; fewer rows mean refuse (and roll back). */
  applyRelease(tx: Tx, reference: string, change: ItemQuantities): Promise<LineRow[]> {
    return tx.query(APPLY_RELEASE, [tx.caller.tenant_id, change.item_ids, quantities(change), reference]);
  },

  /** As applyRelease, and writes one OUTBOUND movement per line; `locked`: the change's items as locked. */
  async applyCommit(tx: Tx, reference: string, notes: string, change: ItemQuantities, locked: Iterable<ItemRow>): Promise<CommitRow[]> {
    type Written = Omit<CommitRow, keyof ItemRow> & { moved: Text };
    const written = await tx.query<Written>(APPLY_COMMIT, [tx.caller.tenant_id, change.item_ids, quantities(change), reference, notes, tx.caller.subject]);
    const items = new Map([...locked].map((item) => [item.id, item]));
    return written.map(({ moved, ...row }) => {
      const item = items.get(row.item_id)!;
      return { ...item, on_hand: row.on_hand_after, reserved: String(BigInt(item.reserved) - BigInt(moved)), updated_at: row.line_updated_at, ...row };
    });
  },

  /**
   * Changes on_hand of one product by `delta` and writes its movement, only if
   * on_hand stays within [reserved, on_hand_max]. Undefined when nothing
   * changed: the product is unknown or the check failed (see lockBalance).
   */
  async applyStockChange(
    tx: Tx,
    change: { product_id: string; delta: bigint; type: MovementType; reference: string; notes: string },
  ): Promise<StockChangeRow | undefined> {
    const [row] = await tx.query<StockChangeRow>(APPLY_STOCK_CHANGE, [
      tx.caller.tenant_id,
      change.product_id,
      String(change.delta),
      change.type,
      change.reference,
      change.notes,
      tx.caller.subject,
      String(LIMITS.on_hand_max),
    ]);
    return row;
  },
};
