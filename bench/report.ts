/**
 * The results of a run: rows per scenario and concurrency with their
 * ceilings and ratio, the targets of the issue, the invariant checks, as a
 * Markdown table (stdout and bench/results/<label>.md) and as JSON.
 */
import type { Check } from './invariants.js';
import { composed, type Point } from './stats.js';

export interface ScenarioInfo {
  readonly name: string;
  readonly what: string;
  /** RPCs per operation: the echo ceiling is divided by it. */
  readonly rpcs_per_op: number;
}

export interface Row {
  readonly scenario: string;
  readonly concurrency: number;
  readonly service: Point;
  readonly raw_db_ops_per_second?: number;
  /** grpc-echo RPC/s divided by the scenario's RPCs per operation. */
  readonly grpc_echo_ops_per_second?: number;
  readonly composed_ceiling?: number;
  readonly ratio?: number;
}

export interface TargetResult {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | undefined;
}

export interface Report {
  readonly started_at: string;
  readonly duration_s: number;
  readonly quick: boolean;
  readonly machine: Record<string, string | number>;
  readonly settings: Record<string, string | number | boolean>;
  readonly scenarios: readonly ScenarioInfo[];
  readonly points: readonly Point[];
  readonly rows: readonly Row[];
  readonly targets: readonly TargetResult[];
  readonly checks: readonly Check[];
  readonly server_peak_rss_mb: number;
  readonly notes: readonly string[];
}

export function buildRows(scenarios: readonly ScenarioInfo[], points: readonly Point[]): Row[] {
  const rows: Row[] = [];
  for (const scenario of scenarios) {
    for (const service of points.filter((point) => point.scenario === scenario.name && point.target === 'service')) {
      const raw = points.find((point) => point.scenario === scenario.name && point.target === 'raw-db' && point.concurrency === service.concurrency);
      const echo = points.find((point) => point.scenario === scenario.name && point.target === 'grpc-echo' && point.concurrency === service.concurrency);
      const raw_db_ops_per_second = raw?.ops_per_second;
      const grpc_echo_ops_per_second = echo ? echo.ops_per_second / scenario.rpcs_per_op : undefined;
      const ceiling = composed(raw_db_ops_per_second, grpc_echo_ops_per_second);
      rows.push({
        scenario: scenario.name,
        concurrency: service.concurrency,
        service,
        raw_db_ops_per_second,
        grpc_echo_ops_per_second,
        composed_ceiling: ceiling,
        ratio: ceiling ? service.ops_per_second / ceiling : undefined,
      });
    }
  }
  return rows;
}

function row(scenario: string, concurrency: number, rows: readonly Row[]): Row | undefined {
  return rows.find((candidate) => candidate.scenario === scenario && candidate.concurrency === concurrency);
}

const percent = (value: number | undefined) => (value === undefined ? 'n/a' : `${(value * 100).toFixed(0)}%`);

function ratioTarget(rows: readonly Row[], scenario: string, concurrency: number, minimum: number): TargetResult {
  const found = row(scenario, concurrency, rows);
  return {
    target: `${scenario} at ${concurrency} in flight: >= ${percent(minimum)} of the composed ceiling`,
    measured: found ? `${percent(found.ratio)} (${found.service.ops_per_second.toFixed(0)} of ${found.composed_ceiling?.toFixed(0) ?? 'n/a'} ops/s)` : 'not measured',
    met: found?.ratio === undefined ? undefined : found.ratio >= minimum,
  };
}

function tailTarget(rows: readonly Row[], scenario: string, concurrency: number): TargetResult {
  const found = row(scenario, concurrency, rows);
  const factor = found ? found.service.p99_ms / found.service.p50_ms : undefined;
  return {
    target: `${scenario} at ${concurrency} in flight: p99 <= 4x p50`,
    measured: found && factor !== undefined ? `p99 ${found.service.p99_ms.toFixed(2)} ms = ${factor.toFixed(2)}x p50 ${found.service.p50_ms.toFixed(2)} ms` : 'not measured',
    met: factor === undefined || Number.isNaN(factor) ? undefined : factor <= 4,
  };
}

/**
 * Coalescing's target (issue 15): the hot row passes what one transaction
 * per Reserve could ever reach on it, the raw-db point of reserve-hot (the
 * very statements, one lock hold and commit per call, no service around).
 */
function hotTarget(rows: readonly Row[]): TargetResult {
  const found = row('reserve-hot', 64, rows);
  const raw = found?.raw_db_ops_per_second;
  const factor = found && raw ? found.service.ops_per_second / raw : undefined;
  return {
    target: 'reserve-hot at 64 in flight: >= 1.2x the raw one-lock-per-call ceiling (its raw-db), p99 <= 100 ms',
    measured:
      found && factor !== undefined ? `${factor.toFixed(2)}x (${found.service.ops_per_second.toFixed(0)} vs ${raw!.toFixed(0)} ops/s), p99 ${found.service.p99_ms.toFixed(2)} ms` : 'not measured',
    met: found && factor !== undefined ? factor >= 1.2 && found.service.p99_ms <= 100 : undefined,
  };
}

export function evaluateTargets(rows: readonly Row[], checks: readonly Check[], peak_rss_mb: number): TargetResult[] {
  const hot_checks = checks.filter((item) => item.scenario === 'reserve-hot');
  const oversell = hot_checks.filter((item) => !item.ok);
  const fifo_10 = row('fifo-issue-10', 8, rows);
  const fifo_10k = row('fifo-issue-10k', 8, rows);
  const cost_factor = fifo_10 && fifo_10k ? fifo_10.service.ops_per_second / fifo_10k.service.ops_per_second : undefined;
  return [
    ratioTarget(rows, 'reserve-spread', 32, 0.7),
    hotTarget(rows),
    {
      target: 'reserve-hot: zero oversell (reserved + committed <= received, sell-out exact)',
      measured: hot_checks.length === 0 ? 'not measured' : oversell.length === 0 ? `${hot_checks.length} checks hold` : oversell.map((item) => item.detail).join('; '),
      met: hot_checks.length === 0 ? undefined : oversell.length === 0,
    },
    ratioTarget(rows, 'fifo-issue-10', 8, 0.6),
    ratioTarget(rows, 'fifo-issue-10k', 8, 0.6),
    {
      target: 'fifo-issue at 8 in flight: cost with 10,000 stored layers <= 1.5x the cost with 10',
      measured: cost_factor === undefined ? 'not measured' : `${cost_factor.toFixed(2)}x (${fifo_10!.service.ops_per_second.toFixed(0)} vs ${fifo_10k!.service.ops_per_second.toFixed(0)} ops/s)`,
      met: cost_factor === undefined ? undefined : cost_factor <= 1.5,
    },
    tailTarget(rows, 'reserve-spread', 32),
    tailTarget(rows, 'check-availability', 32),
    { target: 'server peak RSS < 300 MB', measured: `${peak_rss_mb.toFixed(0)} MB`, met: peak_rss_mb < 300 },
  ];
}

const fixed = (value: number | undefined, digits = 0) => (value === undefined || Number.isNaN(value) ? 'n/a' : value.toFixed(digits));

function errorText(errors: Record<string, number>): string {
  const entries = Object.entries(errors);
  return entries.length === 0 ? '0' : entries.map(([code, count]) => `${code} ${count}`).join(', ');
}

export function markdown(report: Report): string {
  const lines: string[] = [];
  lines.push(`Stockroom benchmark, ${report.started_at} (${report.quick ? 'quick smoke, not a measurement' : 'full run'}, ${report.duration_s.toFixed(0)} s)`);
  lines.push('');
  lines.push(`Machine: ${report.machine.cpus} x ${report.machine.cpu_model}, ${report.machine.memory_gb} GB; Node ${report.machine.node}; PostgreSQL ${report.machine.postgres}.`);
  lines.push(
    `Settings: ${report.settings.warmup_s} s warm-up + ${report.settings.measure_s} s measured per point; server pool ${report.settings.pool_max} connections (raw-db the same); closed loop, one grpc-js channel.`,
  );
  lines.push('');
  lines.push('| scenario | in flight | ops/s | p50 ms | p95 ms | p99 ms | errors | server peak RSS MB | server CPU ms/op | raw-db ops/s | grpc-echo ops/s | composed ceiling | ratio | other CPU |');
  lines.push('|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const item of report.rows) {
    const service = item.service;
    lines.push(
      `| ${item.scenario}${service.exhausted ? ' (pool ran dry)' : ''} | ${item.concurrency} | ${fixed(service.ops_per_second)} | ${fixed(service.p50_ms, 2)} | ${fixed(service.p95_ms, 2)} | ${fixed(service.p99_ms, 2)} | ${errorText(service.errors)} | ${fixed(service.server_peak_rss_mb)} | ${fixed(service.server_cpu_ms_per_op, 2)} | ${fixed(item.raw_db_ops_per_second)} | ${fixed(item.grpc_echo_ops_per_second)} | ${fixed(item.composed_ceiling)} | ${percent(item.ratio)} | ${item.service.cpu ? `${(item.service.cpu.other * 100).toFixed(0)}%` : 'n/a'} |`,
    );
  }
  lines.push('');
  lines.push(
    'ops/s and latencies: the service over gRPC, measured in the window after warm-up; errors: failed calls by gRPC code; server CPU: user + system time of the server process per operation; raw-db: the same transactions straight through pg, one per operation (for reserve-hot the raw one-lock-per-call ceiling, which coalesced Reserves pass: its ratio may exceed 100%); grpc-echo: Health/Check RPC/s on a bare connect-node server without the Stockroom interceptors, divided by the RPCs per operation; composed ceiling = 1 / (1/raw-db + 1/grpc-echo); ratio = ops/s / composed ceiling; other CPU: share of both cores used by processes outside the benchmark during the point (noise).',
  );
  lines.push('');
  lines.push('Operations: ' + report.scenarios.map((scenario) => `\`${scenario.name}\` = ${scenario.what}`).join('; ') + '.');
  lines.push('');
  lines.push('| target | measured | met |');
  lines.push('|---|---|---|');
  for (const target of report.targets) lines.push(`| ${target.target} | ${target.measured} | ${target.met === undefined ? 'not measured' : target.met ? 'yes' : '**no**'} |`);
  lines.push('');
  const failed = report.checks.filter((item) => !item.ok);
  lines.push(
    failed.length === 0
      ? `Invariants: all ${report.checks.length} checks hold.`
      : `Invariants: **${failed.length} of ${report.checks.length} checks FAILED**: ${failed.map((item) => `${item.scenario}: ${item.name} (${item.detail})`).join('; ')}.`,
  );
  for (const note of report.notes) lines.push(`\n${note}`);
  return lines.join('\n') + '\n';
}

/** The report as JSON, without the per-call latency arrays. */
export function json(report: Report): string {
  return JSON.stringify(report, (_key, value) => (value instanceof Float64Array ? undefined : value), 2) + '\n';
}
