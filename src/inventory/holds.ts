/**
 * Holds with a lifetime (issue 11): what an expired hold looks like to the
 * order flow, ExtendReservation, ListReservations, the expiry history, and
 * the sweeper's statements for inventory.
 *
 * Lock order, as everywhere in inventory: item rows (id order) first, then
 * their reservation lines. Every path that changes a line holds its item's
 * lock, so what a locked reader sees of a line is current.
 */
import { binder, sql, type TransactionRunner, type Tx } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';
import { NotFoundError } from '../shared/errors.js';
import type { HoldExpiryTask } from '../shared/hold-sweeper.js';
import type { IdempotencyStore } from '../shared/idempotency.js';
import { decodePageToken, pageOf, type PageScope } from '../shared/page-token.js';
import { ReservationExpiredError, type ExpiredLine } from './errors.js';
import { LIMITS } from './limits.js';
import { INVENTORY_SERVICE_NAME, inventoryMethod } from './methods.js';
import type { HoldExpiryView, Page, ReservationLineView } from './model.js';
import { dateFromMicros, fromMicros, microsFromInstant, type Micros } from '../shared/time.js';
import { toBigInt, toLine, type HoldRow, type LapsedHoldRow } from './rows.js';
import { EFFECTIVE_HOLD, stockRepository as repository } from './stock-repository.js';

/**
 * The refusal for lines a request named whose hold has expired (its expire
 * time passed, swept or not), or undefined when none has. `hold` gives the
 * line's current row, read under the item's lock.
 */
export function lapsedRefusal<Line extends { product_id: string; quantity: bigint }>(
  reference: string,
  lines: readonly Line[],
  hold: (line: Line) => LapsedHoldRow | undefined,
): ReservationExpiredError | undefined {
  const expired: ExpiredLine[] = [];
  for (const line of lines) {
    const row = hold(line);
    if (!row?.lapsed || row.expires_at === null || row.expires_at === undefined) continue;
    // A lapsed line's held units are expired, swept or not (rows read with
    // EFFECTIVE_HOLD already count them as expired and hold 0).
    const units = toBigInt(row.expired ?? 0) + toBigInt(row.held);
    if (units === 0n) continue;
    expired.push({ product_id: line.product_id, requested: line.quantity, held: 0n, expired: units, expire_time: dateFromMicros(microsFromInstant(row.expires_at)) });
  }
  return expired.length === 0 ? undefined : new ReservationExpiredError(reference, expired);
}

/**
 * For a reference that holds nothing any more (release-all, extend): the
 * refusal if what it held expired, from its lines as reservationLines reads
 * them; undefined if none did.
 */
export function expiredInstead(reference: string, lines: readonly (LapsedHoldRow & { product_id: string })[]): ReservationExpiredError | undefined {
  return lapsedRefusal(
    reference,
    lines.map((line) => ({ product_id: line.product_id, quantity: 0n, row: line })),
    (line) => line.row,
  );
}

const HOLD_COLUMNS = `h.item_id, h.held, h.committed, h.released, h.expired, h.expires_at, h.created_at as line_created_at, h.updated_at as line_updated_at`;

// Under the items' locks ($3 their ids): lines still holding units, not lapsed.
const EXTEND = sql(
  'inventory_extend_reservation',
  `update inventory_reservations h set expires_at = now() + $4::bigint * interval '1 millisecond', updated_at = now()
   from inventory_items i
   where h.tenant_id = $1 and h.reference = $2 and h.item_id = any($3::uuid[]) and h.held > 0
     and (h.expires_at is null or h.expires_at > now())
     and i.tenant_id = $1 and i.id = h.item_id
   returning ${HOLD_COLUMNS}, i.product_id`,
);

const EXPIRIES = sql(
  'inventory_hold_expiries',
  `select i.product_id, e.item_id, e.quantity, e.reason, e.expire_time, e.created_at
   from inventory_hold_expiries e join inventory_items i on i.tenant_id = e.tenant_id and i.id = e.item_id
   where e.tenant_id = $1 and e.reference = $2
   order by e.id desc limit $3`,
);

export interface ExtendInput {
  readonly reference: string;
  readonly ttl_ms: number;
}

export interface ReservationFilter {
  readonly state?: 'HELD' | 'COMMITTED' | 'RELEASED' | 'EXPIRED';
  readonly product_id?: string;
  readonly expire_before?: Micros;
}

const STATE_CONDITION: Record<NonNullable<ReservationFilter['state']>, string> = {
  HELD: `r.held > 0 and (r.expires_at is null or r.expires_at > now())`,
  COMMITTED: `r.committed > 0`,
  RELEASED: `r.released > 0`,
  EXPIRED: `(r.expired > 0 or (r.held > 0 and r.expires_at <= now()))`,
};

export class HoldLifetimes {
  constructor(
    private readonly runner: TransactionRunner,
    private readonly idempotency: IdempotencyStore,
  ) {}

  /** Moves the expire time of every line still holding units to now + ttl. */
  extend(context: CallContext, input: ExtendInput, idempotency_key: string | undefined): Promise<ReservationLineView[]> {
    return this.runner.run(context, (tx) =>
      this.idempotency.run(tx, { method: inventoryMethod('ExtendReservation'), key: idempotency_key, input }, async () => {
        const items = await repository.lockItemsHeldBy(tx, input.reference);
        if (items.length === 0) return this.nothingToExtend(tx, input.reference);
        const rows = await tx.query<HoldRow & { product_id: string }>(EXTEND, [tx.caller.tenant_id, input.reference, items.map((item) => item.id), input.ttl_ms]);
        return rows.sort((a, b) => (a.product_id < b.product_id ? -1 : 1)).map((row) => toLine(row.product_id, row));
      }),
    );
  }

  private async nothingToExtend(tx: Tx, reference: string): Promise<ReservationLineView[]> {
    const lines = await repository.reservationLines(tx, reference, LIMITS.products_per_reference);
    if (lines.length === 0) throw new NotFoundError('reservation', reference, 'reference');
    const lapsed = expiredInstead(reference, lines);
    if (lapsed) throw lapsed;
    return [];
  }

  /** Releases of expired holds of one reference, newest first. */
  expiries(context: CallContext, reference: string): Promise<HoldExpiryView[]> {
    return this.runner.run(
      context,
      async (tx) => {
        const rows = await tx.query<{ product_id: string; item_id: string; quantity: string; reason: 'EXPIRED'; expire_time: string; created_at: string }>(EXPIRIES, [
          tx.caller.tenant_id,
          reference,
          LIMITS.products_per_reference,
        ]);
        return rows.map((row) => ({ ...row, quantity: toBigInt(row.quantity), expire_time: microsFromInstant(row.expire_time), created_at: microsFromInstant(row.created_at) }));
      },
      { read_only: true },
    );
  }

  /** Lines of every reference, by reference then item id; the token carries the last pair. */
  list(context: CallContext, filter: ReservationFilter, page: { size: number; token: string }): Promise<Page<ReservationLineView>> {
    const scope: PageScope = { tenant_id: context.caller.tenant_id, list: 'inventory.reservations', filter };
    const after = decodePageToken(page.token, scope, ['text', 'uuid']);
    return this.runner.run(
      context,
      async (tx) => {
        const params: unknown[] = [tx.caller.tenant_id];
        const bind = binder(params);
        const where = ['r.tenant_id = $1'];
        if (filter.state) where.push(STATE_CONDITION[filter.state]);
        if (filter.product_id !== undefined) where.push(`i.product_id = ${bind(filter.product_id)}`);
        if (filter.expire_before !== undefined) where.push(`r.held > 0 and r.expires_at < ${fromMicros(bind(String(filter.expire_before)))}`);
        if (after !== undefined) where.push(`(r.reference, r.item_id) > (${bind(after[0])}, ${bind(after[1])}::uuid)`);
        const rows = await tx.queryDynamic<HoldRow & { product_id: string; reference: string }>(
          `select r.reference, r.item_id, i.product_id, ${EFFECTIVE_HOLD}, r.committed, r.released,
                  r.created_at as line_created_at, r.updated_at as line_updated_at
           from inventory_reservations r join inventory_items i on i.tenant_id = r.tenant_id and i.id = r.item_id
           where ${where.join(' and ')}
           order by r.reference, r.item_id limit ${bind(page.size + 1)}`,
          params,
        );
        const listed = pageOf(rows, page.size, scope, (row) => [row.reference, row.item_id], (row) => ({ ...toLine(row.product_id, row), reference: row.reference }));
        return { rows: listed.items, next_page_token: listed.next_page_token };
      },
      { read_only: true },
    );
  }
}

/**
 * The sweeper's release of due holds of one tenant ($1), at most $2 lines,
 * by the function of migration 0013a: it locks the items of due lines
 * (skipping busy ones), re-checks their lines under those locks, moves the
 * units from held to expired and records each release (reason EXPIRED).
 * A function, so that Citus runs it whole on the tenant's node.
 */
const SWEEP_INVENTORY = sql('inventory_sweep_expired_holds', `select * from stockroom_tenant_sweep_expired_holds($1, $2::integer)`);

const DUE_INVENTORY_TENANTS = sql(
  'inventory_due_hold_tenants',
  `select distinct d.tenant_id from (
     select r.tenant_id from inventory_reservations r
     where r.held > 0 and r.expires_at <= now()
     order by r.expires_at limit $1) d`,
);

export const INVENTORY_HOLD_EXPIRY: HoldExpiryTask = {
  name: 'inventory',
  grpc_service: INVENTORY_SERVICE_NAME,
  due_tenants: DUE_INVENTORY_TENANTS,
  sweep: SWEEP_INVENTORY,
};
