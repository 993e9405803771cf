/**
 * How busy the machine was during a point, and with what: the share of
 * both cores used by the server, PostgreSQL, the load process and anything
 * else. "Other" above a few percent means someone else used the machine and
 * the point is noisy.
 */
import fs from 'node:fs';

const TICKS_PER_SECOND = 100;

/** Busy, stolen and total jiffies of all CPUs. */
function machineTicks(): { busy: number; steal: number; total: number } {
  const [line] = fs.readFileSync('/proc/stat', 'utf8').split('\n');
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const values = line.split(/\s+/).slice(1, 9).map(Number);
  const idle = values[3] + (values[4] ?? 0);
  const steal = values[7] ?? 0;
  const total = values.reduce((sum, value) => sum + value, 0);
  return { busy: total - idle - steal, steal, total };
}

function processTicks(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** The postmaster and its children (backends, walwriter, checkpointer…). */
function postgresPids(postmaster: number): number[] {
  const pids = [postmaster];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = fs.readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ');
      if (Number(fields[1]) === postmaster) pids.push(Number(entry));
    } catch {
      // gone already
    }
  }
  return pids;
}

export interface CpuShares {
  /** Fractions of all cores over the interval. */
  readonly server: number;
  readonly postgres: number;
  readonly load: number;
  readonly other: number;
  /** Time the hypervisor gave our virtual CPUs to someone else. */
  readonly steal: number;
  readonly idle: number;
}

export class CpuMeter {
  private machine = machineTicks();
  private readonly start: Map<string, number>;
  private postgres_start: Map<number, number>;

  constructor(
    private readonly pids: { server: number; load: number; postmaster: number },
  ) {
    this.start = new Map([
      ['server', processTicks(pids.server)],
      ['load', processTicks(pids.load)],
    ]);
    this.postgres_start = this.postgresTicks();
  }

  private postgresTicks(): Map<number, number> {
    return new Map(postgresPids(this.pids.postmaster).map((pid) => [pid, processTicks(pid)]));
  }

  /** Shares since construction. */
  stop(): CpuShares {
    const machine = machineTicks();
    const total = Math.max(1, machine.total - this.machine.total);
    const busy = machine.busy - this.machine.busy;
    const steal = machine.steal - this.machine.steal;
    const server = processTicks(this.pids.server) - this.start.get('server')!;
    const load = processTicks(this.pids.load) - this.start.get('load')!;
    // Per process, so that a backend opening or closing during the interval counts
    // only what it used meanwhile (one that exits takes its last ticks with it).
    let postgres = 0;
    for (const [pid, ticks] of this.postgresTicks()) postgres += ticks - (this.postgres_start.get(pid) ?? 0);
    const other = Math.max(0, busy - server - load - postgres);
    return { server: server / total, postgres: postgres / total, load: load / total, other: other / total, steal: steal / total, idle: (total - busy - steal) / total };
  }
}

export const CPU_TICKS_PER_SECOND = TICKS_PER_SECOND;
