/**
 * What both services' CheckInventoryHealth reports are made of: per kind of
 * fault, how many there are and the first few examples. Each kind is one
 * query yielding one row per fault (its first parameter is the tenant);
 * countFaults runs it once, counting every fault and keeping
 * HEALTH_EXAMPLES_MAX of them, so a tenant with a million faults still gets
 * a small answer from one statement on one snapshot.
 */
import type { Tx } from '../db/transaction.js';

/** Examples per kind of fault (and per Reconcile row, for parts' layers). */
export const HEALTH_EXAMPLES_MAX = 20;

export interface Finding<Example> {
  readonly count: bigint;
  readonly examples: readonly Example[];
}

/**
 * Runs `faults` (SQL selecting one row per fault, $1 = the tenant) and
 * returns the count and up to HEALTH_EXAMPLES_MAX rows in `order_by` order,
 * each turned into an example by `example`.
 */
export async function countFaults<Row, Example>(
  tx: Tx,
  faults: string,
  order_by: string,
  example: (row: Row) => Example,
): Promise<Finding<Example>> {
  const rows = await tx.queryDynamic<Row & { total: string }>(
    `select count(*) over () as total, f.* from (${faults}) f order by ${order_by} limit $2`,
    [tx.caller.tenant_id, HEALTH_EXAMPLES_MAX],
  );
  return { count: BigInt(rows[0]?.total ?? 0), examples: rows.map(example) };
}

/** True when no finding counts a fault. */
export function allClear(findings: readonly Finding<unknown>[]): boolean {
  return findings.every((found) => found.count === 0n);
}
