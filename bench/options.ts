/**
 * What one `npm run bench` measures and for how long. The defaults size a
 * full run to about 10–15 minutes on two cores; `--quick` is a smoke of a few
 * seconds per scenario that proves the benchmark still works (CI runs it).
 */

export const SCENARIOS = ['reserve-spread', 'reserve-hot', 'check-availability', 'fifo-issue-10', 'fifo-issue-10k'] as const;
/** Only on request: the trivial RPC alone, to profile the server stack without any database work. */
const EXTRA_SCENARIOS = ['grpc-echo'] as const;
export type Scenario = (typeof SCENARIOS)[number] | (typeof EXTRA_SCENARIOS)[number];

export interface BenchOptions {
  readonly quick: boolean;
  readonly scenarios: readonly Scenario[];
  readonly concurrency: readonly number[];
  readonly warmup_ms: number;
  readonly measure_ms: number;
  /** The server's STOCKROOM_DATABASE_POOL_MAX; the raw-db ceiling uses the same cap. */
  readonly pool_max: number | undefined;
  /** Writes a V8 CPU profile of the server process into bench/results/. */
  readonly cpu_prof: boolean;
  /** Skip the ceilings (profiling runs). */
  readonly ceilings: boolean;
  /** Where results go; latest.* unless a label is given. */
  readonly label: string;
  /** Exports every span to a local OTLP sink (the cost of tracing); off by default, as in production without an endpoint. */
  readonly tracing: boolean;
  /** Metrics are on by default; --no-metrics measures their cost. */
  readonly metrics: boolean;
  /** The server's STOCKROOM_RESERVE_BATCH_MAX; undefined: its default. 1 measures Reserves without coalescing. */
  readonly reserve_batch_max: number | undefined;
}

const USAGE = `usage: npm run bench -- [--quick] [--scenarios=a,b] [--concurrency=1,8,32,64]
                       [--warmup=SECONDS] [--duration=SECONDS] [--pool-max=N]
                       [--cpu-prof] [--no-ceilings] [--label=NAME] [--tracing] [--no-metrics]
                       [--reserve-batch-max=N]
scenarios: ${SCENARIOS.join(', ')} (default: all), or ${EXTRA_SCENARIOS.join(', ')}`;

function list(value: string): string[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}

function positive(flag: string, value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new Error(`${flag} must be a positive number, got "${value}"\n${USAGE}`);
  return number;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  let scenarios: readonly Scenario[] = SCENARIOS;
  let concurrency: readonly number[] = quick ? [1, 8] : [1, 8, 32, 64];
  let warmup_ms = quick ? 300 : 2_000;
  let measure_ms = quick ? 1_000 : 8_000;
  let pool_max: number | undefined;
  let cpu_prof = false;
  let ceilings = true;
  let label = 'latest';
  let tracing = false;
  let metrics = true;
  let reserve_batch_max: number | undefined;
  for (const argument of argv) {
    const [flag, value = ''] = argument.split('=', 2);
    switch (flag) {
      case '--quick':
        break;
      case '--scenarios': {
        const wanted = list(value);
        const unknown = wanted.filter((name) => ![...SCENARIOS, ...EXTRA_SCENARIOS].includes(name as Scenario));
        if (unknown.length > 0 || wanted.length === 0) throw new Error(`unknown scenario(s): ${unknown.join(', ') || '(none)'}\n${USAGE}`);
        scenarios = wanted as Scenario[];
        break;
      }
      case '--concurrency':
        concurrency = list(value).map((part) => Math.round(positive('--concurrency', part)));
        break;
      case '--warmup':
        warmup_ms = positive('--warmup', value) * 1000;
        break;
      case '--duration':
        measure_ms = positive('--duration', value) * 1000;
        break;
      case '--pool-max':
        pool_max = Math.round(positive('--pool-max', value));
        break;
      case '--cpu-prof':
        cpu_prof = true;
        break;
      case '--no-ceilings':
        ceilings = false;
        break;
      case '--tracing':
        tracing = true;
        break;
      case '--no-metrics':
        metrics = false;
        break;
      case '--reserve-batch-max':
        reserve_batch_max = Math.round(positive('--reserve-batch-max', value));
        break;
      case '--label':
        if (!/^[\w.-]+$/.test(value)) throw new Error(`--label must be a plain file name, got "${value}"`);
        label = value;
        break;
      case '--help':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${argument}\n${USAGE}`);
    }
  }
  return { quick, scenarios, concurrency, warmup_ms, measure_ms, pool_max, cpu_prof, ceilings, label, tracing, metrics, reserve_batch_max };
}
