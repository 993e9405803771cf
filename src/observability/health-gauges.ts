/**
 * The health check and reconcile findings as gauges, refreshed on a timer
 * (never on a scrape: a check reads a tenant's whole ledger). Each service
 * that has checks registers a HealthSource; the refresh runs it for every
 * tenant this process has served (see tenants-seen.ts) and publishes the
 * sums, so no label names a tenant.
 */
import type { Logger } from 'pino';
import type { CallContext } from '../shared/caller.js';
import type { Families } from './families.js';
import type { TenantsSeen } from './tenants-seen.js';

/** A service's checks for one tenant: check name (snake_case) → findings. */
export interface HealthSource {
  /** Every check name `findings` answers, so each gauge exists (at 0) after a refresh even with no tenant yet. */
  readonly checks: readonly string[];
  findings(context: CallContext): Promise<Readonly<Record<string, number>>>;
}

/**
 * A source from a service's health check (each named finding's count) and
 * its reconcile (how many places disagree), as both services have them.
 */
export function healthSource<Check extends string>(
  checks: readonly Check[],
  check: (context: CallContext) => Promise<Readonly<Record<Check, { readonly count: bigint }>>>,
  reconcile_differences: (context: CallContext) => Promise<number>,
): HealthSource {
  return {
    checks: [...checks, 'reconcile_differences'],
    async findings(context) {
      const report = await check(context);
      const findings: Record<string, number> = {};
      for (const name of checks) findings[name] = Number(report[name].count);
      findings.reconcile_differences = await reconcile_differences(context);
      return findings;
    },
  };
}

export interface RegisteredHealthSource {
  readonly grpc_service: string;
  readonly source: HealthSource;
}

const HEALTH_SUBJECT = 'stockroom-metrics';

export class HealthGauges {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly families: Families,
    private readonly sources: readonly RegisteredHealthSource[],
    private readonly tenants: TenantsSeen,
    private readonly logger: Logger,
  ) {}

  start(interval_ms: number): void {
    if (interval_ms === 0 || this.sources.length === 0) return;
    this.timer = setInterval(() => void (this.running ??= this.refresh().finally(() => (this.running = undefined))), interval_ms);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass over every source and tenant; a source that fails keeps its previous values. */
  async refresh(): Promise<void> {
    const tenants = this.tenants.list();
    for (const { grpc_service, source } of this.sources) {
      try {
        const sums = new Map<string, number>(source.checks.map((check) => [check, 0]));
        for (const tenant_id of tenants) {
          const context: CallContext = { caller: { tenant_id, subject: HEALTH_SUBJECT, roles: new Set(['viewer']) } };
          for (const [check, count] of Object.entries(await source.findings(context))) sums.set(check, (sums.get(check) ?? 0) + count);
        }
        for (const [check, count] of sums) this.families.findings.set({ grpc_service, check }, count);
        this.families.tenants_checked.set({ grpc_service }, tenants.length);
        this.families.health_refreshed.set({ grpc_service }, Date.now() / 1000);
      } catch (error) {
        this.families.health_failures.series(grpc_service).value++;
        this.logger.warn({ err: error, grpc_service }, 'health gauge refresh failed; keeping the previous values');
      }
    }
  }
}
