/**
 * The checks the people who run the store need for inventory, as they have
 * them for parts (src/parts/health.ts): the three records of an item's
 * stock (the item's on_hand and reserved, its open holds, its movement
 * ledger with each movement's on_hand_after) must agree. The service's own
 * writes keep them in step; data edited outside it may not.
 *
 * Both read the caller's tenant only. Each check is one statement (see
 * shared/health-report.ts), so it compares numbers from one snapshot even
 * while stock moves. Ledger order is the movement id: movements of one item
 * are written under its row lock, so ids rise along the item's history.
 */
import { binder, type TransactionRunner, type Tx } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';
import { allClear, countFaults, type Finding } from '../shared/health-report.js';
import { decodePageToken, pageOf, type PageScope } from '../shared/page-token.js';
import { microsFromInstant, type Micros } from '../shared/time.js';

export interface HealthExample {
  readonly item_id: string;
  readonly product_id: string;
  readonly movement_id: string | null;
  readonly reference: string | null;
  readonly detail: string;
}

export type HealthFinding = Finding<HealthExample>;

export interface HealthReport {
  readonly healthy: boolean;
  readonly on_hand_ledger_mismatches: HealthFinding;
  readonly reserved_hold_mismatches: HealthFinding;
  readonly on_hand_after_breaks: HealthFinding;
  readonly commit_ledger_mismatches: HealthFinding;
  readonly items_checked: bigint;
  readonly checked_at: Micros;
}

export interface ReconcileRow {
  readonly item_id: string;
  readonly product_id: string;
  readonly on_hand: bigint;
  readonly ledger_on_hand: bigint;
  readonly last_on_hand_after: bigint;
  readonly reserved: bigint;
  readonly held: bigint;
  readonly consistent: boolean;
}

export interface ReconcileFilter {
  /** Empty means any. */
  readonly product_id: string;
  readonly only_differences: boolean;
}

// Each query yields one row per fault: item_id, product_id, movement_id, reference, detail. $1 is the tenant.
const ON_HAND_LEDGER_MISMATCHES = `
  select i.id::text as item_id, i.product_id, null::text as movement_id, null::text as reference,
         format('on_hand %s, its movements sum to %s', i.on_hand, coalesce(l.qty, 0)) as detail
  from inventory_items i
  left join (select item_id, sum(quantity) as qty from inventory_movements where tenant_id = $1 group by item_id) l on l.item_id = i.id
  where i.tenant_id = $1 and i.on_hand <> coalesce(l.qty, 0)`;

const RESERVED_HOLD_MISMATCHES = `
  select i.id::text as item_id, i.product_id, null::text as movement_id, null::text as reference,
         format('reserved %s, its order references hold %s', i.reserved, coalesce(h.qty, 0)) as detail
  from inventory_items i
  left join (select item_id, sum(held) as qty from inventory_reservations where tenant_id = $1 and held > 0 group by item_id) h on h.item_id = i.id
  where i.tenant_id = $1 and i.reserved <> coalesce(h.qty, 0)`;

const ON_HAND_AFTER_BREAKS = `
  with chain as (
    select id, public_id, item_id, on_hand_after,
           sum(quantity) over (partition by item_id order by id) as running,
           row_number() over (partition by item_id order by id desc) as newest_first
    from inventory_movements where tenant_id = $1
  )
  select c.item_id::text as item_id, i.product_id, c.public_id::text as movement_id, null::text as reference,
         format('on_hand_after %s, the ledger up to this movement sums to %s', c.on_hand_after, c.running) as detail
  from chain c join inventory_items i on i.tenant_id = $1 and i.id = c.item_id
  where c.on_hand_after <> c.running
  union all
  select c.item_id::text, i.product_id, c.public_id::text, null::text,
         format('on_hand %s, the newest movement left %s', i.on_hand, c.on_hand_after)
  from chain c join inventory_items i on i.tenant_id = $1 and i.id = c.item_id
  where c.newest_first = 1 and i.on_hand <> c.on_hand_after`;

const COMMIT_LEDGER_MISMATCHES = `
  with shipped as (
    select reference, item_id, -sum(quantity) as qty from inventory_movements
    where tenant_id = $1 and type = 'OUTBOUND' group by reference, item_id
  )
  select r.item_id::text as item_id, i.product_id, null::text as movement_id, r.reference,
         format('committed %s, the reference''s OUTBOUND movements ship %s', r.committed, coalesce(s.qty, 0)) as detail
  from inventory_reservations r
  join inventory_items i on i.tenant_id = $1 and i.id = r.item_id
  left join shipped s on s.reference = r.reference and s.item_id = r.item_id
  where r.tenant_id = $1 and r.committed <> coalesce(s.qty, 0)
  union all
  select s.item_id::text, i.product_id, null::text, s.reference, format('%s units shipped with no reservation line', s.qty)
  from shipped s join inventory_items i on i.tenant_id = $1 and i.id = s.item_id
  where not exists (select 1 from inventory_reservations r where r.tenant_id = $1 and r.reference = s.reference and r.item_id = s.item_id)`;

type FaultRow = HealthExample;

function example(row: FaultRow): HealthExample {
  return { item_id: row.item_id, product_id: row.product_id, movement_id: row.movement_id, reference: row.reference, detail: row.detail };
}

function check(tx: Tx, faults: string): Promise<HealthFinding> {
  return countFaults(tx, faults, 'f.product_id, f.movement_id, f.reference', example);
}

type ReconcileSqlRow = Omit<ReconcileRow, 'on_hand' | 'ledger_on_hand' | 'last_on_hand_after' | 'reserved' | 'held'> &
  Record<'on_hand' | 'ledger_on_hand' | 'last_on_hand_after' | 'reserved' | 'held', string>;

export class InventoryHealth {
  constructor(private readonly runner: TransactionRunner) {}

  checkHealth(context: CallContext): Promise<HealthReport> {
    return this.runner.run(
      context,
      async (tx) => {
        const on_hand_ledger_mismatches = await check(tx, ON_HAND_LEDGER_MISMATCHES);
        const reserved_hold_mismatches = await check(tx, RESERVED_HOLD_MISMATCHES);
        const on_hand_after_breaks = await check(tx, ON_HAND_AFTER_BREAKS);
        const commit_ledger_mismatches = await check(tx, COMMIT_LEDGER_MISMATCHES);
        const [counted] = await tx.queryDynamic<{ items: string; now: string | Date }>(
          `select (select count(*) from inventory_items where tenant_id = $1) as items, now() as now`,
          [tx.caller.tenant_id],
        );
        return {
          healthy: allClear([on_hand_ledger_mismatches, reserved_hold_mismatches, on_hand_after_breaks, commit_ledger_mismatches]),
          on_hand_ledger_mismatches,
          reserved_hold_mismatches,
          on_hand_after_breaks,
          commit_ledger_mismatches,
          items_checked: BigInt(counted.items),
          checked_at: microsFromInstant(counted.now),
        };
      },
      { read_only: true },
    );
  }

  /** Per item, in product id order: on_hand, the ledger's sum and last on_hand_after, reserved and the open holds. */
  reconcile(context: CallContext, filter: ReconcileFilter, page: { size: number; token: string }) {
    const scope: PageScope = { tenant_id: context.caller.tenant_id, list: 'inventory.reconcile', filter };
    const after = decodePageToken(page.token, scope, ['text']);
    return this.runner.run(
      context,
      async (tx) => {
        const params: unknown[] = [tx.caller.tenant_id];
        const bind = binder(params);
        const where = ['i.tenant_id = $1'];
        if (filter.product_id !== '') where.push(`i.product_id = ${bind(filter.product_id)}`);
        if (after) where.push(`i.product_id > ${bind(after[0])}`);
        const rows = await tx.queryDynamic<ReconcileSqlRow>(
          `select * from (
             select i.id::text as item_id, i.product_id, i.on_hand::text, i.reserved::text,
                    l.qty::text as ledger_on_hand, coalesce(n.on_hand_after, 0)::text as last_on_hand_after, h.qty::text as held,
                    i.on_hand = l.qty and i.on_hand = coalesce(n.on_hand_after, 0) and i.reserved = h.qty as consistent
             from inventory_items i
             cross join lateral (select coalesce(sum(quantity), 0) as qty from inventory_movements m where m.tenant_id = $1 and m.item_id = i.id) l
             left join lateral (select on_hand_after from inventory_movements m where m.tenant_id = $1 and m.item_id = i.id order by m.id desc limit 1) n on true
             cross join lateral (select coalesce(sum(held), 0) as qty from inventory_reservations r where r.tenant_id = $1 and r.item_id = i.id and r.held > 0) h
             where ${where.join(' and ')}
           ) r
           ${filter.only_differences ? 'where not r.consistent' : ''}
           order by r.product_id
           limit ${bind(page.size + 1)}`,
          params,
        );
        return pageOf(rows, page.size, scope, (row) => [row.product_id], (row) => ({
          item_id: row.item_id,
          product_id: row.product_id,
          on_hand: BigInt(row.on_hand),
          ledger_on_hand: BigInt(row.ledger_on_hand),
          last_on_hand_after: BigInt(row.last_on_hand_after),
          reserved: BigInt(row.reserved),
          held: BigInt(row.held),
          consistent: row.consistent,
        }));
      },
      { read_only: true },
    );
  }
}
