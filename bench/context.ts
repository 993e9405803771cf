/** What every scenario uses: the processes, the owner's connection, and one way to measure a point. */
import fs from 'node:fs';
import type pg from 'pg';
import type { Check } from './invariants.js';
import type { LoadProcess } from './load-process.js';
import type { Clients } from './load/grpc-client.js';
import { CpuMeter } from './machine.js';
import type { RunResult, Target, Workload } from './load/protocol.js';
import type { BenchOptions } from './options.js';
import type { ServerProcess } from './server-process.js';
import { toPoint, type Point } from './stats.js';

export const TENANTS = {
  inventory: 'bench-inventory',
  fifo_10: 'bench-fifo-10',
  fifo_10k: 'bench-fifo-10k',
} as const;

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

const pct = (share: number) => `${(share * 100).toFixed(0)}%`;

function processCpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

export class Context {
  readonly points: Point[] = [];
  readonly checks: Check[] = [];
  readonly notes: string[] = [];
  /** Peak RSS of the server over every measured point. */
  peak_rss_mb = 0;

  constructor(
    readonly options: BenchOptions,
    readonly owner: pg.Client,
    readonly server: ServerProcess,
    readonly load: LoadProcess,
    /** The orchestrator's own client, for setup through the API and the service's self-checks. */
    readonly clients: Clients,
    readonly tokens: Readonly<Record<string, string>>,
    /** Connections of the server's pool (and of the raw-db pool). */
    readonly pool_max: number,
    private readonly postmaster_pid: number,
  ) {}

  addChecks(checks: readonly Check[]): void {
    for (const item of checks) {
      this.checks.push(item);
      log(`  ${item.ok ? 'ok  ' : 'FAIL'} ${item.scenario}: ${item.name} (${item.detail})`);
    }
  }

  /** Runs one closed-loop point and records it; service points also get the server's peak RSS and CPU. */
  /** Seconds spent vacuuming between points, for the log. */
  vacuum_seconds = 0;

  /**
   * Vacuums the tables a scenario updates before each point, so every point
   * starts from a table without the dead row versions of the point before
   * (the service would otherwise pay for the raw-db run's garbage).
   */
  private async vacuum(workload: Workload): Promise<void> {
    const tables =
      workload.kind === 'fifo-issue'
        ? ['part_batches', 'part_balances']
        : workload.kind === 'echo' || workload.kind === 'check-availability'
          ? []
          : ['inventory_items', 'inventory_reservations'];
    const started = performance.now();
    for (const table of tables) await this.owner.query(`vacuum ${table}`);
    this.vacuum_seconds += (performance.now() - started) / 1000;
  }

  async measure(scenario: string, target: Target, concurrency: number, tenant: string, workload: Workload, run_tag: string): Promise<RunResult> {
    await this.vacuum(workload);
    const measured_service = target !== 'raw-db';
    if (measured_service) this.server.resetPeak();
    const server_cpu_before = this.server.cpuMs();
    const client_cpu_before = processCpuMs(this.load.pid);
    const meter = new CpuMeter({ server: this.server.pid, load: this.load.pid, postmaster: this.postmaster_pid });
    const result = await this.load.run({
      target,
      tenant,
      workload,
      concurrency,
      warmup_ms: this.options.warmup_ms,
      measure_ms: this.options.measure_ms,
      run_tag,
    });
    const started = Math.max(1, result.started);
    const server_cpu_ms = this.server.cpuMs() - server_cpu_before;
    const client_cpu_ms = processCpuMs(this.load.pid) - client_cpu_before;
    const extra: Partial<Point> = { client_cpu_ms_per_op: client_cpu_ms / started, cpu: meter.stop() };
    if (measured_service) {
      const peak = this.server.peakRssMb();
      this.peak_rss_mb = Math.max(this.peak_rss_mb, peak);
      Object.assign(extra, { server_peak_rss_mb: peak, server_cpu_ms_per_op: server_cpu_ms / started });
    }
    const point = toPoint(scenario, target, concurrency, result, extra);
    this.points.push(point);
    const errors = Object.entries(point.errors)
      .map(([code, count]) => `${code} ${count}`)
      .join(', ');
    log(
      `  ${scenario.padEnd(18)} ${target.padEnd(9)} x${String(concurrency).padEnd(3)} ${point.ops_per_second.toFixed(0).padStart(6)} ops/s  p50 ${point.p50_ms.toFixed(2)}  p99 ${point.p99_ms.toFixed(2)} ms` +
        (errors ? `  errors: ${errors}` : '') +
        (point.exhausted ? '  (pool ran dry)' : '') +
        `  cpu: server ${pct(point.cpu!.server)} pg ${pct(point.cpu!.postgres)} load ${pct(point.cpu!.load)} other ${pct(point.cpu!.other)} steal ${pct(point.cpu!.steal)} idle ${pct(point.cpu!.idle)}`,
    );
    for (const [code, example] of Object.entries(point.error_examples)) log(`    ${code}: ${example}`);
    return result;
  }
}
