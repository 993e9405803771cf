/**
 * The server under test as its own process (`node dist/src/main.js`), so
 * that its memory and CPU can be read from /proc and the load runs
 * elsewhere. Its peak RSS is read from VmHWM, which the kernel keeps
 * exactly; writing 5 to clear_refs resets it between measured points.
 * It runs at its default log level (info: one line per call), as deployed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, unary } from './load/grpc-client.js';
import { ROOT } from './paths.js';

export interface ServerOptions {
  readonly port: number;
  readonly database_url: string;
  readonly jwt_secret: string;
  readonly pool_max: number | undefined;
  /** Directory for a V8 CPU profile (written when the server exits), or undefined. */
  readonly cpu_prof_dir: string | undefined;
  /** More settings (tracing, metrics on or off). */
  readonly environment?: Readonly<Record<string, string>>;
}

export class ServerProcess {
  private exited: Promise<number | null>;
  private stderr_tail = '';

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr_tail = (this.stderr_tail + chunk.toString()).slice(-4000);
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      this.stderr_tail = (this.stderr_tail + chunk.toString()).slice(-4000);
    });
  }

  static async start(options: ServerOptions): Promise<ServerProcess> {
    // As npm start and the Dockerfile run it (README, Node flags).
    const node_arguments = ['--experimental-async-context-frame', ...(options.cpu_prof_dir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpu_prof_dir}`] : [])];
    const child = spawn(process.execPath, [...node_arguments, path.join(ROOT, 'dist/src/main.js')], {
      cwd: ROOT,
      env: {
        ...process.env,
        STOCKROOM_HOST: '127.0.0.1',
        STOCKROOM_PORT: String(options.port),
        STOCKROOM_DATABASE_URL: options.database_url,
        STOCKROOM_JWT_SECRET: options.jwt_secret,
        ...(options.pool_max ? { STOCKROOM_DATABASE_POOL_MAX: String(options.pool_max) } : {}),
        ...options.environment,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new ServerProcess(child);
    await server.waitUntilServing(options.port);
    return server;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The last lines the server wrote, for error messages. */
  get output(): string {
    return this.stderr_tail;
  }

  private async waitUntilServing(port: number): Promise<void> {
    const clients = connect(`127.0.0.1:${port}`);
    const check = unary(clients.health, 'Check');
    const deadline = Date.now() + 60_000;
    try {
      for (;;) {
        if (this.child.exitCode !== null) throw new Error(`the server exited with code ${this.child.exitCode}:\n${this.stderr_tail}`);
        try {
          const response = await check({ service: '' });
          if (response.status === 'SERVING') return;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`the server did not become SERVING within 60 s:\n${this.stderr_tail}`);
        await sleep(200);
      }
    } finally {
      clients.close();
    }
  }

  private status(): Record<string, string> {
    const text = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    return Object.fromEntries(
      text
        .split('\n')
        .map((line) => line.split(':'))
        .filter((parts) => parts.length >= 2)
        .map(([key, ...rest]) => [key.trim(), rest.join(':').trim()]),
    );
  }

  /** Peak resident memory since start or the last resetPeak, in MB. */
  peakRssMb(): number {
    return parseInt(this.status().VmHWM ?? '0', 10) / 1024;
  }

  rssMb(): number {
    return parseInt(this.status().VmRSS ?? '0', 10) / 1024;
  }

  /** Resets VmHWM to the current RSS; false where the kernel does not allow it. */
  resetPeak(): boolean {
    try {
      fs.writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      return true;
    } catch {
      return false;
    }
  }

  /** User + system CPU time of the server so far, in ms. */
  cpuMs(): number {
    const fields = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after "pid (comm)".
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  }

  /** SIGTERM, then wait for a clean exit (the CPU profile is written on exit). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const code = await Promise.race([this.exited, sleep(20_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

/**
 * The bare connect-node server of the grpc-echo ceiling (bench/echo-server.ts),
 * a process of its own like the service.
 */
export async function startEchoServer(port: number): Promise<{ readonly address: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/bench/echo-server.js'), String(port)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the echo server exited with code ${code}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    address: `127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

// USER_HZ; 100 on every Linux we run on.
const CLOCK_TICKS_PER_SECOND = 100;
