/**
 * The checks the people who run the store need: faults that the service's
 * own writes can never produce but that data loaded or edited outside it
 * can (the CHECK constraints stop most of them; these find the rest), and a
 * reconciliation of the three records of stock: ledger, layers, balance.
 *
 * Both read the caller's tenant only. Each check is one statement, so it
 * compares numbers from one snapshot even while stock moves.
 */
import { binder, type TransactionRunner, type Tx } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';
import { Decimal, type DecimalValue } from '../shared/decimal.js';
import { LIMITS } from './limits.js';
import { QTY_SCALE, type Micros, type Page, type PageRequest } from './model.js';
import { decodePageToken, pageOf, type PageScope } from '../shared/page-token.js';
import { micros, toMicros } from './rows.js';
import { allClear, countFaults, type Finding } from '../shared/health-report.js';

export interface HealthExample {
  readonly part_id: string | null;
  readonly location_id: string | null;
  readonly batch_id: string | null;
  readonly movement_id: string | null;
  readonly work_order_id: string | null;
  readonly detail: string;
}

export type HealthFinding = Finding<HealthExample>;

export interface HealthReport {
  readonly healthy: boolean;
  readonly negative_quantities: HealthFinding;
  readonly orphaned_movements: HealthFinding;
  readonly fifo_violations: HealthFinding;
  readonly balance_batch_mismatches: HealthFinding;
  readonly balance_ledger_mismatches: HealthFinding;
  readonly batch_ledger_mismatches: HealthFinding;
  readonly fifo_movements_checked: bigint;
  readonly checked_at: Micros;
}

export interface BatchDifference {
  readonly batch_id: string;
  readonly batch_qty: DecimalValue;
  readonly ledger_qty: DecimalValue;
}

export interface ReconcileRow {
  readonly part_id: string;
  readonly part_number: string;
  readonly location_id: string;
  readonly site: string;
  readonly location_name: string;
  readonly ledger_qty: DecimalValue;
  readonly batch_qty: DecimalValue;
  readonly balance_qty: DecimalValue;
  readonly batch_differences: readonly BatchDifference[];
  readonly consistent: boolean;
}

export interface ReconcileFilter {
  /** Empty means any. */
  readonly part_id: string;
  readonly location_id: string;
  readonly only_differences: boolean;
}

type FindingRow = {
  total: string;
  part_id: string | null;
  location_id: string | null;
  batch_id: string | null;
  movement_id: string | null;
  work_order_id: string | null;
  detail: string;
};

const qty = (value: string | null) => new Decimal(value ?? 0).toFixed(QTY_SCALE);

// Each query yields the fault rows of one category; `finding` adds the
// count and keeps the first examples. $1 is the tenant.
const NEGATIVE_QUANTITIES = `
  select part_id, location_id, id as batch_id, null::text as movement_id, null::text as work_order_id,
         format('layer holds %s of %s received', qty_on_hand, qty_received) as detail
  from part_batches where tenant_id = $1 and (qty_on_hand < 0 or qty_on_hand > qty_received)
  union all
  select part_id, location_id, null, null, null, format('balance is %s', qty_on_hand)
  from part_balances where tenant_id = $1 and qty_on_hand < 0
  union all
  select part_id, location_id, null, null, work_order_id, format('work order returned %s more than it was issued', -sum(qty_used))
  from work_order_lines where tenant_id = $1
  group by work_order_id, part_id, location_id having sum(qty_used) < 0`;

const ORPHANED_MOVEMENTS = `
  select m.part_id, m.location_id, m.batch_id, m.public_id::text as movement_id, m.work_order_id,
         'the movement''s layer is missing or belongs to another part or location' as detail
  from part_movements m left join part_batches b on b.tenant_id = m.tenant_id and b.id = m.batch_id
  where m.tenant_id = $1 and (b.id is null or b.part_id <> m.part_id or b.location_id <> m.location_id)
  union all
  select m.part_id, m.location_id, m.batch_id, m.public_id::text, m.work_order_id, format('%s movement without its work-order line', m.type)
  from part_movements m
  where m.tenant_id = $1 and m.type in ('ISSUE', 'RETURN')
    and not exists (select 1 from work_order_lines w where w.tenant_id = $1 and w.movement_id = m.id)
  union all
  select w.part_id, w.location_id, w.batch_id, m.public_id::text, w.work_order_id,
         format('work-order line %s disagrees with its movement', w.public_id)
  from work_order_lines w left join part_movements m on m.tenant_id = w.tenant_id and m.id = w.movement_id
  where w.tenant_id = $1
    and (m.id is null or m.type not in ('ISSUE', 'RETURN') or m.batch_id <> w.batch_id or m.part_id <> w.part_id
         or m.location_id <> w.location_id or m.qty_delta <> -w.qty_used or m.unit_cost <> w.unit_cost_snapshot
         or m.work_order_id is distinct from w.work_order_id)`;

const BALANCE_BATCH_MISMATCHES = `
  select coalesce(b.part_id, s.part_id) as part_id, coalesce(b.location_id, s.location_id) as location_id,
         null::uuid as batch_id, null::text as movement_id, null::text as work_order_id,
         format('balance %s, layers %s', coalesce(b.qty_on_hand, 0), coalesce(s.qty, 0)) as detail
  from (select part_id, location_id, qty_on_hand from part_balances where tenant_id = $1) b
  full join (select part_id, location_id, sum(qty_on_hand) as qty from part_batches where tenant_id = $1 group by 1, 2) s
    on s.part_id = b.part_id and s.location_id = b.location_id
  where coalesce(b.qty_on_hand, 0) <> coalesce(s.qty, 0)`;

const BALANCE_LEDGER_MISMATCHES = `
  select coalesce(b.part_id, s.part_id) as part_id, coalesce(b.location_id, s.location_id) as location_id,
         null::uuid as batch_id, null::text as movement_id, null::text as work_order_id,
         format('balance %s, ledger %s', coalesce(b.qty_on_hand, 0), coalesce(s.qty, 0)) as detail
  from (select part_id, location_id, qty_on_hand from part_balances where tenant_id = $1) b
  full join (select part_id, location_id, sum(qty_delta) as qty from part_movements where tenant_id = $1 group by 1, 2) s
    on s.part_id = b.part_id and s.location_id = b.location_id
  where coalesce(b.qty_on_hand, 0) <> coalesce(s.qty, 0)`;

const BATCH_LEDGER_MISMATCHES = `
  select pb.part_id, pb.location_id, pb.id as batch_id, null::text as movement_id, null::text as work_order_id,
         format('layer holds %s, its movements sum to %s', pb.qty_on_hand, coalesce(l.qty, 0)) as detail
  from part_batches pb
  left join (select batch_id, sum(qty_delta) as qty from part_movements where tenant_id = $1 group by batch_id) l on l.batch_id = pb.id
  where pb.tenant_id = $1 and pb.qty_on_hand <> coalesce(l.qty, 0)`;

/**
 * A consuming movement is a FIFO violation when, right after it, an older
 * layer of the same part and location (received date, then receipt
 * sequence: FIFO_ORDER) still had stock. A layer's stock over time comes
 * from its own movements (running sum in ledger order), so backdated receipts and returns, which give an
 * older layer stock later, are judged at the time they happened. Only the
 * most recent $2 consuming movements are checked; RTV_OUT may name a layer.
 */
const FIFO_VIOLATIONS = `
  with consumption as materialized (
    select m.id, m.public_id, m.batch_id, m.part_id, m.location_id, b.received_at, b.receipt_seq
    from part_movements m join part_batches b on b.tenant_id = m.tenant_id and b.id = m.batch_id
    where m.tenant_id = $1 and m.qty_delta < 0 and m.type in ('ISSUE', 'TRANSFER_OUT', 'ADJUSTMENT', 'COUNT_ADJUST')
    order by m.id desc
    limit $2
  ),
  places as (select distinct part_id, location_id from consumption),
  history as (
    select m.batch_id, m.id,
           sum(m.qty_delta) over (partition by m.batch_id order by m.id) as stock_after,
           lead(m.id) over (partition by m.batch_id order by m.id) as next_id
    from part_movements m join places p on p.part_id = m.part_id and p.location_id = m.location_id
    where m.tenant_id = $1
  ),
  stocked as (
    select b.part_id, b.location_id, b.received_at, b.receipt_seq, h.batch_id, h.id as from_id, coalesce(h.next_id, 9223372036854775807) as until_id
    from history h join part_batches b on b.tenant_id = $1 and b.id = h.batch_id
    where h.stock_after > 0 and coalesce(h.next_id, 9223372036854775807) > (select coalesce(min(id), 0) from consumption)
  ),
  violations as materialized (
    select distinct on (c.id) c.id, c.public_id, c.part_id, c.location_id, c.batch_id, s.batch_id as older_batch_id
    from consumption c
    join stocked s on s.part_id = c.part_id and s.location_id = c.location_id
      and (s.received_at, s.receipt_seq) < (c.received_at, c.receipt_seq) and s.from_id < c.id and c.id < s.until_id
    order by c.id, s.received_at, s.receipt_seq
  )
  select k.checked, k.total, v.part_id, v.location_id, v.batch_id, v.public_id::text as movement_id, null::text as work_order_id,
         case when v.id is not null then format('took from layer %s while older layer %s had stock', v.batch_id, v.older_batch_id) end as detail
  from (select (select count(*) from consumption) as checked, (select count(*) from violations) as total) k
  left join lateral (select * from violations order by id desc limit $3) v on true`;

function example(row: FindingRow): HealthExample {
  return {
    part_id: row.part_id,
    location_id: row.location_id,
    batch_id: row.batch_id,
    movement_id: row.movement_id,
    work_order_id: row.work_order_id,
    detail: row.detail,
  };
}

/** The FIFO check counts in its own statement; a row without detail only carries the count. */
function finding(rows: readonly FindingRow[]): HealthFinding {
  return { count: BigInt(rows[0]?.total ?? 0), examples: rows.filter((row) => row.detail !== null).map(example) };
}

function check(tx: Tx, faults: string): Promise<HealthFinding> {
  return countFaults(tx, faults, 'f.part_id, f.location_id, f.batch_id', example);
}

export class InventoryHealth {
  constructor(private readonly runner: TransactionRunner) {}

  checkHealth(context: CallContext, fifo_movements_max: number): Promise<HealthReport> {
    return this.runner.run(
      context,
      async (tx) => {
        const negative_quantities = await check(tx, NEGATIVE_QUANTITIES);
        const orphaned_movements = await check(tx, ORPHANED_MOVEMENTS);
        const balance_batch_mismatches = await check(tx, BALANCE_BATCH_MISMATCHES);
        const balance_ledger_mismatches = await check(tx, BALANCE_LEDGER_MISMATCHES);
        const batch_ledger_mismatches = await check(tx, BATCH_LEDGER_MISMATCHES);
        const fifo_rows = await tx.queryDynamic<FindingRow & { checked: string }>(FIFO_VIOLATIONS, [
          tx.caller.tenant_id,
          fifo_movements_max,
          LIMITS.examples_max,
        ]);
        const fifo_violations = finding(fifo_rows);
        const [clock] = await tx.queryDynamic<{ now_us: string }>(`select ${micros('now()')} as now_us`, []);
        const findings = [negative_quantities, orphaned_movements, fifo_violations, balance_batch_mismatches, balance_ledger_mismatches, batch_ledger_mismatches];
        return {
          healthy: allClear(findings),
          negative_quantities,
          orphaned_movements,
          fifo_violations,
          balance_batch_mismatches,
          balance_ledger_mismatches,
          batch_ledger_mismatches,
          fifo_movements_checked: BigInt(fifo_rows[0]?.checked ?? 0),
          checked_at: toMicros(clock.now_us),
        };
      },
      { read_only: true },
    );
  }

  /** Per part and location: ledger sum, layer sum and balance, and layers that disagree with their own movements. */
  reconcile(context: CallContext, filter: ReconcileFilter, page: PageRequest): Promise<Page<ReconcileRow>> {
    const scope: PageScope = { tenant_id: context.caller.tenant_id, list: 'parts.reconcile', filter };
    const after = decodePageToken(page.page_token, scope, ['text', 'text', 'text']);
    return this.runner.run(
      context,
      async (tx) => {
        const params: unknown[] = [tx.caller.tenant_id];
        const bind = binder(params);
        const part = filter.part_id === '' ? undefined : bind(filter.part_id);
        const location = filter.location_id === '' ? undefined : bind(filter.location_id);
        /** The request's part and location filter on a table (alias). */
        const scopedTo = (alias: string) =>
          `${part ? ` and ${alias}part_id = ${part}::uuid` : ''}${location ? ` and ${alias}location_id = ${location}::uuid` : ''}`;
        const within = scopedTo('');
        const where: string[] = ['true'];
        // Stable and readable: by part number, then location (site, name; unique per tenant), never by id.
        if (after) where.push(`(r.part_number, r.site, r.location_name) > (${bind(after[0])}, ${bind(after[1])}, ${bind(after[2])})`);
        if (filter.only_differences) where.push('not r.consistent');
        const examples = bind(LIMITS.examples_max);
        const rows = await tx.queryDynamic<{
          part_id: string;
          part_number: string;
          location_id: string;
          site: string;
          location_name: string;
          ledger_qty: string;
          batch_qty: string;
          balance_qty: string;
          batch_differences: string[] | null;
          consistent: boolean;
        }>(
          `with ledger as (
             select part_id, location_id, sum(qty_delta) as qty from part_movements where tenant_id = $1 ${within} group by 1, 2
           ),
           layers as (
             select part_id, location_id, sum(qty_on_hand) as qty from part_batches where tenant_id = $1 ${within} group by 1, 2
           ),
           balances as (
             select part_id, location_id, qty_on_hand as qty from part_balances where tenant_id = $1 ${within}
           ),
           layer_ledger as (
             select batch_id, sum(qty_delta) as qty from part_movements where tenant_id = $1 ${within} group by batch_id
           ),
           -- Materialized: computed once. Inlined, it sat inside a nested loop over
           -- the places (the planner expects one), so with 40 places of 10,000
           -- layers and work_mem 32MB it aggregated all 700,000 movements 81 times
           -- (185 s; 3 s materialized).
           layer_differences as materialized (
             select pb.part_id, pb.location_id,
                    (array_agg(json_build_object('batch_id', pb.id, 'batch_qty', pb.qty_on_hand::text, 'ledger_qty', coalesce(ll.qty, 0)::text)::text
                               order by pb.received_at, pb.receipt_seq))[1:${examples}] as differences
             from part_batches pb left join layer_ledger ll on ll.batch_id = pb.id
             where pb.tenant_id = $1 ${scopedTo('pb.')} and pb.qty_on_hand <> coalesce(ll.qty, 0)
             group by pb.part_id, pb.location_id
           ),
           places as (
             select part_id, location_id from ledger union select part_id, location_id from layers union select part_id, location_id from balances
           ),
           r as (
             select k.part_id, p.part_number, k.location_id, l.site, l.name as location_name,
                    coalesce(ld.qty, 0) as ledger_qty, coalesce(ly.qty, 0) as batch_qty, coalesce(bl.qty, 0) as balance_qty,
                    d.differences as batch_differences,
                    coalesce(ld.qty, 0) = coalesce(ly.qty, 0) and coalesce(ly.qty, 0) = coalesce(bl.qty, 0) and d.differences is null as consistent
             from places k
             join parts p on p.tenant_id = $1 and p.id = k.part_id
             join locations l on l.tenant_id = $1 and l.id = k.location_id
             left join ledger ld on ld.part_id = k.part_id and ld.location_id = k.location_id
             left join layers ly on ly.part_id = k.part_id and ly.location_id = k.location_id
             left join balances bl on bl.part_id = k.part_id and bl.location_id = k.location_id
             left join layer_differences d on d.part_id = k.part_id and d.location_id = k.location_id
           )
           select * from r where ${where.join(' and ')}
           order by r.part_number, r.site, r.location_name
           limit ${bind(page.page_size + 1)}`,
          params,
        );
        return pageOf(
          rows,
          page.page_size,
          scope,
          (row) => [row.part_number, row.site, row.location_name],
          (row) => ({
            part_id: row.part_id,
            part_number: row.part_number,
            location_id: row.location_id,
            site: row.site,
            location_name: row.location_name,
            ledger_qty: new Decimal(qty(row.ledger_qty)),
            batch_qty: new Decimal(qty(row.batch_qty)),
            balance_qty: new Decimal(qty(row.balance_qty)),
            batch_differences: (row.batch_differences ?? []).map((text) => {
              const difference = JSON.parse(text) as { batch_id: string; batch_qty: string; ledger_qty: string };
              return { batch_id: difference.batch_id, batch_qty: new Decimal(difference.batch_qty), ledger_qty: new Decimal(difference.ledger_qty) };
            }),
            consistent: row.consistent,
          }),
        );
      },
      { read_only: true },
    );
  }
}
