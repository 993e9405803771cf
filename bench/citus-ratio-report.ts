/**
 * What bench/citus-ratio.ts reports: per database, the p50 and p95 of each
 * call over all rounds and the p50 of each round (a drift or a noisy round
 * shows there), the Citus/plain ratio of the p50s (issue 16 asks for at most
 * 1.5 for Reserve), the load average around the run (the machine is shared,
 * and absolute numbers move with it) and the server's CPU per pair.
 */
import type { PairSamples } from './pair-latency.js';
import { percentile } from './stats.js';

export interface CallSummary {
  readonly p50_ms: number;
  readonly p95_ms: number;
  readonly round_p50_ms: readonly number[];
}

export interface DatabaseSummary {
  readonly database: string;
  readonly pairs: number;
  readonly reserve: CallSummary;
  readonly commit_outbound: CallSummary;
  readonly server_cpu_ms_per_pair: number;
}

export interface RatioReport {
  readonly started_at: string;
  readonly finished_at: string;
  readonly settings: { readonly rounds: number; readonly calls_per_round: number; readonly warmup_pairs: number; readonly pool_max: number };
  readonly machine: { readonly cpus: number; readonly cpu_model: string; readonly node: string; readonly postgres: string; readonly citus: string };
  readonly coordinator: string;
  readonly workers: readonly string[];
  /** os.loadavg(): 1, 5 and 15 minutes. */
  readonly load_average_start: readonly number[];
  readonly load_average_end: readonly number[];
  readonly plain: DatabaseSummary;
  readonly citus: DatabaseSummary;
  /** Citus p50 / plain p50, over all rounds and per round. */
  readonly ratio_citus_to_plain: { readonly reserve_p50: number; readonly commit_outbound_p50: number; readonly reserve_round_p50: readonly number[]; readonly commit_outbound_round_p50: readonly number[] };
}

function sorted(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

function summarizeCall(rounds: readonly (readonly number[])[]): CallSummary {
  const all = sorted(rounds.flat());
  return { p50_ms: percentile(all, 0.5), p95_ms: percentile(all, 0.95), round_p50_ms: rounds.map((round) => percentile(sorted(round), 0.5)) };
}

export function summarizeDatabase(database: string, rounds: readonly PairSamples[]): DatabaseSummary {
  const pairs = rounds.reduce((sum, round) => sum + round.pairs, 0);
  const server_cpu_ms = rounds.reduce((sum, round) => sum + round.server_cpu_ms, 0);
  return {
    database,
    pairs,
    reserve: summarizeCall(rounds.map((round) => round.reserve_ms)),
    commit_outbound: summarizeCall(rounds.map((round) => round.commit_outbound_ms)),
    server_cpu_ms_per_pair: server_cpu_ms / pairs,
  };
}

export function ratioOf(plain: DatabaseSummary, citus: DatabaseSummary): RatioReport['ratio_citus_to_plain'] {
  const per_round = (call: 'reserve' | 'commit_outbound') => citus[call].round_p50_ms.map((p50_ms, round) => p50_ms / plain[call].round_p50_ms[round]);
  return {
    reserve_p50: citus.reserve.p50_ms / plain.reserve.p50_ms,
    commit_outbound_p50: citus.commit_outbound.p50_ms / plain.commit_outbound.p50_ms,
    reserve_round_p50: per_round('reserve'),
    commit_outbound_round_p50: per_round('commit_outbound'),
  };
}

const ms = (value: number) => value.toFixed(2);
const times = (value: number) => `${value.toFixed(2)}x`;
const loads = (values: readonly number[]) => values.map((value) => value.toFixed(2)).join(' ');

function callRows(label: string, summary: DatabaseSummary): string[] {
  const row = (call: string, figures: CallSummary) => `| ${label} | ${call} | ${ms(figures.p50_ms)} | ${ms(figures.p95_ms)} | ${figures.round_p50_ms.map(ms).join(' ')} |`;
  return [row('Reserve', summary.reserve), row('CommitOutbound', summary.commit_outbound)];
}

/** The report as Markdown, for stdout. */
export function ratioText(report: RatioReport): string {
  const { settings, ratio_citus_to_plain: ratio } = report;
  return [
    `Reserve of 1 unit then its CommitOutbound, one call in flight, grpc-js, one server process per database (pool ${settings.pool_max})`,
    `coordinator ${report.coordinator}, workers ${report.workers.join(', ')}; PostgreSQL ${report.machine.postgres}, Citus ${report.machine.citus}; ${report.machine.cpus} CPUs (${report.machine.cpu_model}), Node ${report.machine.node}`,
    `${settings.warmup_pairs} warm-up pairs per database, then ${settings.rounds} rounds of ${settings.calls_per_round} pairs per database (order alternating each round)`,
    `${report.started_at} to ${report.finished_at}; load average at start ${loads(report.load_average_start)}, at end ${loads(report.load_average_end)}`,
    '',
    '| database | call | p50 ms | p95 ms | p50 per round, ms |',
    '| --- | --- | ---: | ---: | --- |',
    ...callRows(`plain tables (${report.plain.database})`, report.plain),
    ...callRows(`Citus (${report.citus.database})`, report.citus),
    '',
    `ratio Citus/plain of the p50s: Reserve ${times(ratio.reserve_p50)} (per round ${ratio.reserve_round_p50.map(times).join(' ')}), CommitOutbound ${times(ratio.commit_outbound_p50)} (per round ${ratio.commit_outbound_round_p50.map(times).join(' ')})`,
    `server process CPU per pair: plain ${ms(report.plain.server_cpu_ms_per_pair)} ms, Citus ${ms(report.citus.server_cpu_ms_per_pair)} ms (over ${report.plain.pairs} and ${report.citus.pairs} measured pairs)`,
    '',
  ].join('\n');
}
