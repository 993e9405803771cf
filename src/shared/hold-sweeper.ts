/**
 * The sweeper that releases expired holds, of both services (issue 11).
 * Every replica runs it; that is safe because each release locks and
 * re-checks its holds (see the tasks' sweep statements), so two sweepers
 * never release one hold twice and a busy item is simply left to the next
 * sweep (SKIP LOCKED) instead of queueing behind the order flow.
 *
 * One sweep: a tenant-less maintenance transaction lists the tenants with
 * due holds (row-level security lets it read only due holds, see migration
 * 0006), then each tenant's due holds are released in that tenant's own
 * transactions, a bounded batch at a time.
 */
import type { Logger } from 'pino';
import { HOLD_EXPIRY_TASK } from '../db/migrations/Migration0006Holds.js';
import { sql, type Statement, type TransactionRunner } from '../db/transaction.js';
import type { CallContext } from './caller.js';

export interface HoldExpiryTask {
  readonly name: string;
  /** Whose holds these are, for the stockroom_holds_expired_total metric. */
  readonly grpc_service: string;
  /** Tenants with due holds; $1 the most due holds to look at. */
  readonly due_tenants: Statement;
  /** Releases up to $2 due holds of tenant $1; answers `released`. */
  readonly sweep: Statement;
}

export interface SweepLimits {
  readonly batch_rows: number;
  /** Batches per tenant and task in one sweep; the next sweep continues. */
  readonly batches_per_tenant_max: number;
}

function tenantContext(tenant_id: string): CallContext {
  return { caller: { tenant_id, subject: 'stockroom:hold-expiry', roles: new Set() } };
}

const MAINTENANCE: CallContext = tenantContext('');

/** One sweep of every task; answers how many holds each released. */
export async function sweepExpiredHolds(runner: TransactionRunner, tasks: readonly HoldExpiryTask[], limits: SweepLimits): Promise<Record<string, number>> {
  const released: Record<string, number> = {};
  for (const task of tasks) {
    const tenants = await runner.run(MAINTENANCE, (tx) => tx.query<{ tenant_id: string }>(task.due_tenants, [limits.batch_rows]), {
      maintenance_task: HOLD_EXPIRY_TASK,
    });
    released[task.name] = 0;
    for (const { tenant_id } of tenants) {
      for (let batch = 0; batch < limits.batches_per_tenant_max; batch++) {
        const [row] = await runner.run(tenantContext(tenant_id), async (tx) => {
          const rows = await tx.query<{ released: number }>(task.sweep, [tenant_id, limits.batch_rows]);
          tx.count('holds_expired', task.grpc_service, '', Number(rows[0].released));
          return rows;
        });
        released[task.name] += row.released;
        if (row.released < limits.batch_rows) break;
      }
    }
  }
  return released;
}

/** Runs a sweep every `interval_ms` until stopped; a failed sweep is logged and the next one retries. */
export function startHoldSweeper(runner: TransactionRunner, tasks: readonly HoldExpiryTask[], options: SweepLimits & { interval_ms: number }, logger: Logger): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = sweepExpiredHolds(runner, tasks, options)
      .then((released) => {
        if (Object.values(released).some((count) => count > 0)) logger.info({ released }, 'expired holds released');
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'hold expiry sweep failed; the next sweep retries'))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, options.interval_ms);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
