/**
 * The event feed: ListEvents pages and WatchEvents streams over the outbox,
 * each read a read-only transaction of the caller's tenant.
 */
import { sql, type TransactionRunner } from '../db/transaction.js';
import type { EventsConfig } from '../server/config.js';
import type { CallContext } from '../shared/caller.js';
import { ResourceExhaustedError } from '../shared/errors.js';
import { decodePageToken, encodePageToken, type PageScope } from '../shared/page-token.js';
import type { EventFilter, EventView } from './model.js';
import { formatPosition, ORIGIN, parsePosition, type Position } from '../db/position.js';
import { readEvents } from './store.js';
import { watchStream, type StreamItem } from './stream.js';

export interface EventPage {
  readonly events: EventView[];
  readonly next_page_token: string;
  readonly last_position: Position;
}

/** Where a stream starts: after a position, now, or the oldest retained event. */
export type StreamStart = Position | 'now' | 'oldest';

/**
 * The frontier of the tenant's node (migration 0015a): on Citus the
 * tenant's events are written with its node's transaction ids, and the
 * function runs there (a bare call: Citus delegates only that); on plain
 * PostgreSQL, the snapshot's xmin. xid8 arrives as text.
 */
const TENANT_FRONTIER = sql('events_tenant_frontier', `select stockroom_tenant_frontier($1) as xmin`);

export class EventFeed {
  private watches_open = 0;

  constructor(
    private readonly runner: TransactionRunner,
    private readonly config: EventsConfig,
    private readonly stopping: AbortSignal,
  ) {}

  async list(context: CallContext, filter: EventFilter, after: Position | undefined, page: { size: number; token: string }): Promise<EventPage> {
    const scope: PageScope = { tenant_id: context.caller.tenant_id, list: 'events.events', filter: { ...filter, after: after && formatPosition(after) } };
    const cursor = decodePageToken(page.token, scope, ['text']);
    const from = cursor ? parsePosition('page_token', cursor[0]) : (after ?? ORIGIN);
    const batch = await this.runner.run(context, (tx) => readEvents(tx, from, filter, page.size + 1), { read_only: true });
    const more = batch.events.length > page.size;
    const events = more ? batch.events.slice(0, page.size) : batch.events;
    const last_position = more ? events[events.length - 1].position : batch.covered;
    return {
      events,
      next_page_token: more ? encodePageToken(scope, [formatPosition(last_position)]) : '',
      last_position,
    };
  }

  /** The position of "now": every event committed after the call sorts after it. */
  async now(context: CallContext): Promise<Position> {
    const [row] = await this.runner.run(context, (tx) => tx.query<{ xmin: string }>(TENANT_FRONTIER, [tx.caller.tenant_id]), { read_only: true });
    return { xid: BigInt(row.xmin), id: 0n };
  }

  async *watch(context: CallContext, filter: EventFilter, start: StreamStart): AsyncGenerator<StreamItem> {
    const max = this.config.max_watches;
    if (this.watches_open >= max) {
      throw new ResourceExhaustedError(`${max} event watches are open, the limit; page with ListEvents or retry later`, 'TOO_MANY_WATCHES', { maxEventWatches: String(max) });
    }
    this.watches_open++;
    try {
      const position = start === 'now' ? await this.now(context) : start === 'oldest' ? ORIGIN : start;
      yield* watchStream(context, filter, position, { config: this.config, runner: this.runner, stopping: this.stopping });
    } finally {
      this.watches_open--;
    }
  }
}
