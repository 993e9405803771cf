/**
 * Read-only views of stock: on hand per part and location, layers in FIFO
 * order, the ledger newest first, a part across every location, and a work
 * order's lines with their cost. Each runs in one read-only transaction;
 * every list is keyset-paged and bounded.
 */
import { readLedgerAfter, type Position } from '../db/position.js';
import { binder, type TransactionRunner } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';
import { Decimal, type DecimalValue } from '../shared/decimal.js';
import { partNotFound } from './errors.js';
import { LIMITS } from './limits.js';
import type { BatchView, Micros, MovementType, MovementView, Page, PageRequest, WorkOrderLineView } from './model.js';
import { decodePageToken, pageOf, type PageScope } from '../shared/page-token.js';
import { batchColumns, fromMicros, LINE_COLUMNS, micros, MOVEMENT_COLUMNS, toBatch, toLine, toMicros, toMovement, type BatchRow, type LineRow, type MovementRow } from './rows.js';

export interface OnHandView {
  readonly part_id: string;
  readonly part_number: string;
  readonly location_id: string;
  readonly site: string;
  readonly location_name: string;
  readonly qty_on_hand: DecimalValue;
  readonly qty_reserved: DecimalValue;
  readonly value: DecimalValue;
  readonly open_batches: number;
}

export interface LocationOnHandView {
  readonly location_id: string;
  readonly site: string;
  readonly name: string;
  readonly qty_on_hand: DecimalValue;
  readonly qty_reserved: DecimalValue;
}

export interface PartLocationsOnHand extends Page<LocationOnHandView> {
  readonly part_id: string;
  readonly part_number: string;
}

export interface WorkOrderPartSummary {
  readonly part_id: string;
  readonly part_number: string;
  readonly location_id: string;
  readonly net_qty: DecimalValue;
  readonly net_cost: DecimalValue;
  /** Held for the work order now (lapsed holds count 0). */
  readonly qty_reserved: DecimalValue;
  readonly qty_issued: DecimalValue;
  readonly qty_returned: DecimalValue;
  readonly reserve_expires_at: Micros | null;
}

export interface WorkOrderParts extends Page<WorkOrderLineView> {
  readonly work_order_id: string;
  readonly total_parts_cost: DecimalValue;
  readonly line_count: bigint;
  readonly parts: readonly WorkOrderPartSummary[];
}

export interface PlaceFilter {
  /** Empty means any. */
  readonly part_id: string;
  readonly location_id: string;
}

/** Movements after a position, and the position to poll after next. */
export interface MovementsAfter {
  readonly items: readonly MovementView[];
  readonly last_position: Position;
}

export interface MovementFilter extends PlaceFilter {
  readonly work_order_id: string;
  /** Empty means every type. */
  readonly types: readonly MovementType[];
  readonly from_time: Micros | null;
  readonly to_time: Micros | null;
}

/** The WHERE conditions of `filter` on movements `m`; $1 is the tenant. */
function movementConditions(filter: MovementFilter, bind: (value: unknown) => string): string[] {
  const where = ['m.tenant_id = $1'];
  if (filter.part_id !== '') where.push(`m.part_id = ${bind(filter.part_id)}::uuid`);
  if (filter.location_id !== '') where.push(`m.location_id = ${bind(filter.location_id)}::uuid`);
  if (filter.work_order_id !== '') where.push(`m.work_order_id = ${bind(filter.work_order_id)}`);
  if (filter.types.length > 0) where.push(`m.type = any(${bind(filter.types)}::text[])`);
  if (filter.from_time !== null) where.push(`m.created_at >= ${fromMicros(bind(filter.from_time.toString()))}`);
  if (filter.to_time !== null) where.push(`m.created_at < ${fromMicros(bind(filter.to_time.toString()))}`);
  return where;
}

interface WorkOrderPartRow {
  part_id: string;
  part_number: string;
  location_id: string;
  net_qty: string;
  net_cost: string;
  qty_reserved: string;
  qty_issued: string;
  qty_returned: string;
  reserve_expires_us: string | null;
}

/**
 * Per part and location, what the work order used (issued, returned, net,
 * from its lines) beside what it holds now (a lapsed hold holds nothing);
 * a place it only holds appears too. $1 tenant, $2 work order, $3 limit.
 */
const WORK_ORDER_PARTS = `with used as (
     select w.part_id, w.location_id, sum(w.qty_used) as net_qty, sum(w.total_cost) as net_cost,
            coalesce(sum(w.qty_used) filter (where w.qty_used > 0), 0) as qty_issued,
            coalesce(-sum(w.qty_used) filter (where w.qty_used < 0), 0) as qty_returned
     from work_order_lines w where w.tenant_id = $1 and w.work_order_id = $2
     group by w.part_id, w.location_id
   ), held as (
     select h.part_id, h.location_id, h.expires_at,
            case when h.expires_at <= now() then 0 else h.qty_held end as qty_reserved
     from part_work_order_holds h where h.tenant_id = $1 and h.work_order_id = $2
   )
   select p.id as part_id, p.part_number, coalesce(u.location_id, h.location_id) as location_id,
          coalesce(u.net_qty, 0) as net_qty, coalesce(u.net_cost, 0) as net_cost,
          coalesce(h.qty_reserved, 0) as qty_reserved, coalesce(u.qty_issued, 0) as qty_issued, coalesce(u.qty_returned, 0) as qty_returned,
          case when h.qty_reserved > 0 then ${micros('h.expires_at')} end as reserve_expires_us
   from used u full join held h on h.part_id = u.part_id and h.location_id = u.location_id
   join parts p on p.tenant_id = $1 and p.id = coalesce(u.part_id, h.part_id)
   join locations l on l.tenant_id = $1 and l.id = coalesce(u.location_id, h.location_id)
   order by p.part_number, l.site, l.name
   limit $3`;

export class StockQueries {
  constructor(private readonly runner: TransactionRunner) {}

  /** Balances with their value at layer cost, by part number, site and location name. */
  onHand(context: CallContext, filter: PlaceFilter, page: PageRequest): Promise<Page<OnHandView>> {
    const scope: PageScope = { tenant_id: context.caller.tenant_id, list: 'parts.on-hand', filter };
    const after = decodePageToken(page.page_token, scope, ['text', 'text', 'text']);
    return this.runner.run(
      context,
      async (tx) => {
        const params: unknown[] = [tx.caller.tenant_id];
        const bind = binder(params);
        const where = ['b.tenant_id = $1'];
        if (filter.part_id !== '') where.push(`b.part_id = ${bind(filter.part_id)}::uuid`);
        if (filter.location_id !== '') where.push(`b.location_id = ${bind(filter.location_id)}::uuid`);
        if (after) where.push(`(p.part_number, l.site, l.name) > (${bind(after[0])}, ${bind(after[1])}, ${bind(after[2])})`);
        const rows = await tx.queryDynamic<{
          part_id: string;
          part_number: string;
          location_id: string;
          site: string;
          location_name: string;
          qty_on_hand: string;
          qty_reserved: string;
          value: string;
          open_batches: number;
        }>(
          `select b.part_id, p.part_number, b.location_id, l.site, l.name as location_name, b.qty_on_hand, b.qty_reserved,
                  coalesce(v.value, 0) as value, v.open_batches
           from part_balances b
           join parts p on p.tenant_id = b.tenant_id and p.id = b.part_id
           join locations l on l.tenant_id = b.tenant_id and l.id = b.location_id
           cross join lateral (
             select sum(pb.qty_on_hand * pb.unit_cost) as value, count(*)::int as open_batches
             from part_batches pb
             -- $1, not b.tenant_id: a distributed engine prunes a subquery to one shard only by its own tenant filter.
             where pb.tenant_id = $1 and pb.part_id = b.part_id and pb.location_id = b.location_id and pb.qty_on_hand > 0
           ) v
           where ${where.join(' and ')}
           order by p.part_number, l.site, l.name
           limit ${bind(page.page_size + 1)}`,
          params,
        );
        return pageOf(
          rows,
          page.page_size,
          scope,
          (row) => [row.part_number, row.site, row.location_name],
          (row) => ({ ...row, qty_on_hand: new Decimal(row.qty_on_hand), qty_reserved: new Decimal(row.qty_reserved), value: new Decimal(row.value) }),
        );
      },
      { read_only: true },
    );
  }

  /**
   * Layers by part number, location (site, name), then FIFO order (received
   * date, receipt sequence): readable and the same every run, never by id.
   */
  batches(context: CallContext, filter: PlaceFilter & { include_empty: boolean }, page: PageRequest): Promise<Page<BatchView>> {
    const scope: PageScope = { tenant_id: context.caller.tenant_id, list: 'parts.batches', filter };
    const after = decodePageToken(page.page_token, scope, ['uuid', 'uuid', 'integer', 'uuid']);
    return this.runner.run(
      context,
      async (tx) => {
        const params: unknown[] = [tx.caller.tenant_id];
        const bind = binder(params);
        const where = ['pb.tenant_id = $1'];
        if (filter.part_id !== '') where.push(`pb.part_id = ${bind(filter.part_id)}::uuid`);
        if (filter.location_id !== '') where.push(`pb.location_id = ${bind(filter.location_id)}::uuid`);
        if (!filter.include_empty) where.push('pb.qty_on_hand > 0');
        if (after) {
          where.push(
            // The token names the last layer by id (its receipt sequence stays in the database).
            `(p.part_number, l.site, l.name, pb.received_at, pb.receipt_seq) > (select ap.part_number, al.site, al.name, a.received_at, a.receipt_seq
               from part_batches a
               join parts ap on ap.tenant_id = a.tenant_id and ap.id = a.part_id
               join locations al on al.tenant_id = a.tenant_id and al.id = a.location_id
               where a.tenant_id = $1 and a.part_id = ${bind(after[0])}::uuid and a.location_id = ${bind(after[1])}::uuid and a.id = ${bind(after[3])}::uuid)`,
          );
        }
        const rows = await tx.queryDynamic<BatchRow & { location_qty_on_hand: string; location_qty_reserved: string }>(
          `select ${batchColumns('pb')}, bal.qty_on_hand as location_qty_on_hand, bal.qty_reserved as location_qty_reserved
           from part_batches pb
           join parts p on p.tenant_id = pb.tenant_id and p.id = pb.part_id
           join locations l on l.tenant_id = pb.tenant_id and l.id = pb.location_id
           join part_balances bal on bal.tenant_id = pb.tenant_id and bal.part_id = pb.part_id and bal.location_id = pb.location_id
           where ${where.join(' and ')}
           order by p.part_number, l.site, l.name, pb.received_at, pb.receipt_seq
           limit ${bind(page.page_size + 1)}`,
          params,
        );
        return pageOf(rows, page.page_size, scope, (row) => [row.part_id, row.location_id, row.received_us, row.id], (row) => ({
          ...toBatch(row),
          location_qty_reserved: new Decimal(row.location_qty_reserved),
          location_qty_available: new Decimal(row.location_qty_on_hand).minus(row.location_qty_reserved),
        }));
      },
      { read_only: true },
    );
  }

  /** The ledger, newest first (descending internal sequence). */
  movements(context: CallContext, filter: MovementFilter, page: PageRequest): Promise<Page<MovementView>> {
    const scope: PageScope = { tenant_id: context.caller.tenant_id, list: 'parts.movements', filter };
    const after = decodePageToken(page.page_token, scope, ['integer']);
    return this.runner.run(
      context,
      async (tx) => {
        const params: unknown[] = [tx.caller.tenant_id];
        const bind = binder(params);
        const where = movementConditions(filter, bind);
        if (after) where.push(`m.id < ${bind(after[0])}::int8`);
        const rows = await tx.queryDynamic<MovementRow>(
          `select ${MOVEMENT_COLUMNS} from part_movements m
           join parts p on p.tenant_id = m.tenant_id and p.id = m.part_id
           where ${where.join(' and ')}
           order by m.id desc
           limit ${bind(page.page_size + 1)}`,
          params,
        );
        return pageOf(rows, page.page_size, scope, (row) => [row.seq], toMovement);
      },
      { read_only: true },
    );
  }

  /**
   * At most `limit` movements after `after` in commit order (oldest first),
   * only of transactions that have all ended (migration 0008).
   */
  movementsAfter(context: CallContext, filter: MovementFilter, after: Position, limit: number): Promise<MovementsAfter> {
    return this.runner.run(
      context,
      async (tx) => {
        const params: unknown[] = [tx.caller.tenant_id];
        const where = movementConditions(filter, binder(params));
        const from = `part_movements m join parts p on p.tenant_id = m.tenant_id and p.id = m.part_id`;
        const read = await readLedgerAfter(tx, { columns: MOVEMENT_COLUMNS, from, where, params, limit }, after, (row: MovementRow) => toMovement(row));
        return { items: read.views, last_position: read.last_position };
      },
      { read_only: true },
    );
  }

  /** Every location of the tenant with its quantity of the part, zero included, by site and name. */
  locationsOnHand(context: CallContext, part_id: string, page: PageRequest): Promise<PartLocationsOnHand> {
    const scope: PageScope = { tenant_id: context.caller.tenant_id, list: 'parts.locations-on-hand', filter: { part_id } };
    const after = decodePageToken(page.page_token, scope, ['text', 'text']);
    return this.runner.run(
      context,
      async (tx) => {
        const [part] = await tx.queryDynamic<{ part_number: string }>('select part_number from parts where tenant_id = $1 and id = $2', [
          tx.caller.tenant_id,
          part_id,
        ]);
        if (!part) throw partNotFound(part_id);
        const params: unknown[] = [tx.caller.tenant_id, part_id];
        const bind = binder(params);
        const where = ['l.tenant_id = $1'];
        if (after) where.push(`(l.site, l.name) > (${bind(after[0])}, ${bind(after[1])})`);
        const rows = await tx.queryDynamic<{ location_id: string; site: string; name: string; qty_on_hand: string; qty_reserved: string }>(
          `select l.id as location_id, l.site, l.name, coalesce(b.qty_on_hand, 0) as qty_on_hand, coalesce(b.qty_reserved, 0) as qty_reserved
           from locations l
           left join part_balances b on b.tenant_id = l.tenant_id and b.part_id = $2::uuid and b.location_id = l.id
           where ${where.join(' and ')}
           order by l.site, l.name
           limit ${bind(page.page_size + 1)}`,
          params,
        );
        const listed = pageOf(
          rows,
          page.page_size,
          scope,
          (row) => [row.site, row.name],
          (row) => ({ ...row, qty_on_hand: new Decimal(row.qty_on_hand), qty_reserved: new Decimal(row.qty_reserved) }),
        );
        return { part_id, part_number: part.part_number, ...listed };
      },
      { read_only: true },
    );
  }

  /** A work order's lines (paged, oldest first), its exact total cost and net use per part and location. */
  workOrderParts(context: CallContext, work_order_id: string, page: PageRequest): Promise<WorkOrderParts> {
    const scope: PageScope = { tenant_id: context.caller.tenant_id, list: 'parts.work-order-lines', filter: { work_order_id } };
    const after = decodePageToken(page.page_token, scope, ['integer']);
    return this.runner.run(
      context,
      async (tx) => {
        const tenant = tx.caller.tenant_id;
        const params: unknown[] = [tenant, work_order_id];
        const bind = binder(params);
        const rows = await tx.queryDynamic<LineRow>(
          `select ${LINE_COLUMNS} from work_order_lines w
           join parts p on p.tenant_id = w.tenant_id and p.id = w.part_id
           where w.tenant_id = $1 and w.work_order_id = $2 ${after ? `and w.id > ${bind(after[0])}::int8` : ''}
           order by w.id
           limit ${bind(page.page_size + 1)}`,
          params,
        );
        const [totals] = await tx.queryDynamic<{ line_count: string; total_parts_cost: string }>(
          `select count(*) as line_count, coalesce(sum(total_cost), 0) as total_parts_cost
           from work_order_lines where tenant_id = $1 and work_order_id = $2`,
          [tenant, work_order_id],
        );
        const parts = await tx.queryDynamic<WorkOrderPartRow>(WORK_ORDER_PARTS, [tenant, work_order_id, LIMITS.work_order_parts_max]);
        return {
          work_order_id,
          ...pageOf(rows, page.page_size, scope, (row) => [row.seq], toLine),
          total_parts_cost: new Decimal(totals.total_parts_cost),
          line_count: BigInt(totals.line_count),
          parts: parts.map((row) => ({
            part_id: row.part_id,
            part_number: row.part_number,
            location_id: row.location_id,
            net_qty: new Decimal(row.net_qty),
            net_cost: new Decimal(row.net_cost),
            qty_reserved: new Decimal(row.qty_reserved),
            qty_issued: new Decimal(row.qty_issued),
            qty_returned: new Decimal(row.qty_returned),
            reserve_expires_at: row.reserve_expires_us === null ? null : toMicros(row.reserve_expires_us),
          })),
        };
      },
      { read_only: true },
    );
  }
}
