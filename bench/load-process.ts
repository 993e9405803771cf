/** The orchestrator's handle on the load process (bench/load/worker.ts). */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { FromWorker, InitMessage, RunMessage, RunResult } from './load/protocol.js';

export class LoadProcess {
  private next_id = 1;
  private readonly pending = new Map<number, { resolve: (result: RunResult) => void; reject: (error: Error) => void }>();
  private ready: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    let signal_ready: () => void = () => {};
    this.ready = new Promise((resolve) => (signal_ready = resolve));
    child.on('message', (message: FromWorker) => {
      if (message.type === 'ready') {
        signal_ready();
        return;
      }
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.result) waiter.resolve(message.result);
      else waiter.reject(new Error(`load process: ${message.error}`));
    });
    child.once('exit', (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`the load process exited with code ${code}`));
      this.pending.clear();
    });
  }

  static async start(init: Omit<InitMessage, 'type'>): Promise<LoadProcess> {
    const child = fork(path.join(import.meta.dirname, 'load', 'worker.js'), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const load = new LoadProcess(child);
    child.send({ type: 'init', ...init } satisfies InitMessage);
    await load.ready;
    return load;
  }

  get pid(): number {
    return this.child.pid!;
  }

  run(message: Omit<RunMessage, 'type' | 'id'>): Promise<RunResult> {
    const id = this.next_id++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ type: 'run', id, ...message } satisfies RunMessage);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ type: 'stop' });
    await exited;
  }
}
