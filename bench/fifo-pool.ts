/**
 * Places (a part at a location) with open FIFO layers for the fifo-issue
 * runs. Every issue uses up layers, so the pool tracks how many issues each
 * place can still take and, before a run (never during it), returns the
 * earlier runs' issues to their layers (as ReturnFromWorkOrder would) or
 * creates more places. A place keeps the number of layers it stores for its
 * whole life: 10 stay 10, and 10,000 stay 10,000.
 */
import pg from 'pg';
import type { Place } from './load/protocol.js';
import { analyze, lastMovementId, returnIssues, seedFifoPlaces, type FifoShape } from './seed.js';

interface Entry {
  readonly place: Place;
  remaining: number;
}

export interface Lease {
  readonly places: Place[];
  readonly schedule: Uint32Array;
  /** Returns what the run did not use: calls [0, started) of the schedule were made. */
  settle(started: number): void;
}

export class FifoPool {
  private readonly entries: Entry[] = [];
  private next_number = 1;
  /** Issues after this ledger id are not returned yet. */
  private returned_through = '0';
  private consumed = false;
  /** Seconds spent creating and restoring layers, for the report. */
  seeding_seconds = 0;
  created_layers = 0;
  restores = 0;

  constructor(
    private readonly client: pg.Client,
    readonly tenant: string,
    readonly shape: FifoShape,
    /** Layers one issue uses up. */
    readonly layers_per_call: number,
    /** Places created per transaction. */
    private readonly chunk: number,
  ) {}

  get calls_per_new_place(): number {
    return Math.floor((this.shape.layers - this.shape.used_up) / this.layers_per_call);
  }

  private async grow(places: number): Promise<void> {
    const started = performance.now();
    for (let created = 0; created < places; created += this.chunk) {
      const count = Math.min(this.chunk, places - created);
      const new_places = await seedFifoPlaces(this.client, this.tenant, count, this.shape, this.next_number);
      this.next_number += count;
      this.created_layers += count * this.shape.layers;
      for (const place of new_places) this.entries.push({ place, remaining: this.calls_per_new_place });
    }
    if (this.returned_through === '0') this.returned_through = await lastMovementId(this.client, this.tenant);
    await analyze(this.client, ['part_balances', 'part_batches', 'part_movements', 'work_order_lines']);
    this.seeding_seconds += (performance.now() - started) / 1000;
  }

  /** Gives every place back the layers the runs so far took. */
  private async restore(): Promise<void> {
    const started = performance.now();
    this.returned_through = await returnIssues(this.client, this.tenant, this.returned_through);
    for (const entry of this.entries) entry.remaining = this.calls_per_new_place;
    this.consumed = false;
    this.restores++;
    this.seeding_seconds += (performance.now() - started) / 1000;
  }

  /**
   * Places for about `calls` issues over at least `min_places` places,
   * scheduled round robin.
   */
  async lease(calls: number, min_places: number): Promise<Lease> {
    const usable = () => this.entries.filter((entry) => entry.remaining > 0);
    const short = () => usable().length < min_places || usable().reduce((sum, entry) => sum + entry.remaining, 0) < calls;
    if (short() && this.consumed) await this.restore();
    if (short()) {
      const places_short = Math.max(0, min_places - usable().length);
      const calls_short = Math.max(0, calls - usable().reduce((sum, entry) => sum + entry.remaining, 0));
      await this.grow(Math.max(places_short, Math.ceil(calls_short / this.calls_per_new_place)));
    }
    let capacity = 0;
    // Fullest first, then as many as needed.
    const chosen: Entry[] = [];
    for (const entry of usable().sort((a, b) => b.remaining - a.remaining)) {
      if (capacity >= calls && chosen.length >= min_places) break;
      chosen.push(entry);
      capacity += entry.remaining;
    }
    const schedule: number[] = [];
    for (let round = 0; schedule.length < Math.min(calls, capacity); round++) {
      for (let index = 0; index < chosen.length && schedule.length < calls; index++) {
        if (chosen[index].remaining > round) schedule.push(index);
      }
    }
    return {
      places: chosen.map((entry) => entry.place),
      schedule: Uint32Array.from(schedule),
      settle: (started: number) => {
        for (let call = 0; call < Math.min(started, schedule.length); call++) chosen[schedule[call]].remaining--;
        if (started > 0) this.consumed = true;
      },
    };
  }
}
