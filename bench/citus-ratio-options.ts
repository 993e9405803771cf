/** The command line of bench/citus-ratio.ts. */

export interface RatioOptions {
  /** A Citus coordinator's database that has the extension and its workers (postgresql://…). */
  readonly coordinator_url: string;
  readonly rounds: number;
  /** Reserve + CommitOutbound pairs per database per round. */
  readonly calls_per_round: number;
  /** Pairs per database before the first round, not measured. */
  readonly warmup_pairs: number;
}

const USAGE = `usage: node dist/bench/citus-ratio.js --coordinator=postgresql://USER@HOST:PORT/DATABASE
                                     [--rounds=N] [--calls=N] [--warmup=N]
  --coordinator  a Citus coordinator's database with the citus extension and its workers registered
                 (two databases ratio_plain_* and ratio_citus_* are made on that server and dropped afterwards)
  --rounds       rounds, each measuring both databases (default 10)
  --calls        Reserve + CommitOutbound pairs per database per round (default 300)
  --warmup       pairs per database before the first round, not measured (default 50)`;

/** A command line this tool cannot run with (exit code 2); its message ends with the usage. */
export class UsageError extends Error {
  constructor(problem: string) {
    super(`${problem}\n${USAGE}`);
  }
}

// Limits, so that a typo does not start a run of days.
const ROUNDS_MAX = 1_000;
const PAIRS_MAX = 100_000;

function wholeNumber(flag: string, value: string, minimum: number, maximum: number): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < minimum || number > maximum) {
    throw new UsageError(`${flag} must be a whole number from ${minimum} to ${maximum}, got "${value}"`);
  }
  return number;
}

function postgresUrl(value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new UsageError(`--coordinator must be a postgresql:// URL, got "${value}"`);
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') throw new UsageError(`--coordinator must be a postgresql:// URL, got "${value}"`);
  if (parsed.pathname.length <= 1) throw new UsageError('--coordinator must name a database (…/postgres)');
  return value;
}

export function parseRatioOptions(argv: readonly string[]): RatioOptions {
  let coordinator_url: string | undefined;
  let rounds = 10;
  let calls_per_round = 300;
  let warmup_pairs = 50;
  for (const argument of argv) {
    if (argument === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    // Split at the first '=' only: a URL may hold more (?sslmode=require).
    const split = argument.indexOf('=');
    if (split < 0) throw new UsageError(`unknown option ${argument}`);
    const [flag, value] = [argument.slice(0, split), argument.slice(split + 1)];
    if (flag === '--coordinator') coordinator_url = postgresUrl(value);
    else if (flag === '--rounds') rounds = wholeNumber(flag, value, 1, ROUNDS_MAX);
    else if (flag === '--calls') calls_per_round = wholeNumber(flag, value, 1, PAIRS_MAX);
    else if (flag === '--warmup') warmup_pairs = wholeNumber(flag, value, 0, PAIRS_MAX);
    else throw new UsageError(`unknown option ${argument}`);
  }
  if (coordinator_url === undefined) throw new UsageError('--coordinator is required');
  return { coordinator_url, rounds, calls_per_round, warmup_pairs };
}
