/**
 * Delivery of committed events to NATS JetStream (issue 12), when
 * STOCKROOM_NATS_URL is set.
 *
 * Each round is one database transaction that
 *  1. takes a transaction-scoped advisory lock named after the relay, or
 *     does nothing: with several replicas, one relays at a time;
 *  2. reads the relay's last acknowledged position (event_relays) and the
 *     next committed events of every tenant after it (store.ts);
 *  3. publishes them one by one, in position order, each to
 *     `<prefix>.<tenant>.<type>` with Nats-Msg-Id = the event id, waiting
 *     for JetStream's acknowledgement before the next;
 *  4. saves the position of the last acknowledged event, and commits.
 * At least once: a crash between an ack and the commit republishes those
 * events next round, and JetStream drops them as duplicates of their
 * Nats-Msg-Id (the stream's duplicate window is 10 minutes). A broker outage
 * stops a round at the first unacknowledged event; the next round resumes
 * there. The transaction writes only at its end, so it never holds back the
 * commit-ordered readers (an open transaction id would).
 *
 * On Citus (migration 0015a) events are written on the worker holding their
 * tenant, with that worker's transaction ids, so the relay keeps a position
 * per node and reads every node's events after its own position in one
 * statement (store.ts readEventsPerNode). Citus reads a node's shards in
 * separate statements, each below its own snapshot's frontier, so one
 * shard's rows may pass a transaction another shard's statement had not
 * seen end. A node's rows are therefore published only below a frontier of
 * that node read in an earlier round (every transaction below it had ended
 * before this round's read began, so all its rows, on every shard of the
 * node, were visible to it); the rest wait one round. Order and
 * exactly-once hold per node, hence per tenant (a tenant is on one node).
 */
import { toJsonString } from '@bufbuild/protobuf';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, headers, nanos, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { EventSchema } from '../../gen/stockroom/events/v1/events_service_pb.js';
import { EVENTS_RELAY_TASK } from '../db/migrations/Migration0007Events.js';
import { sql, type TransactionRunner, type Tx } from '../db/transaction.js';
import type { NatsConfig } from '../server/config.js';
import type { CallContext } from '../shared/caller.js';
import { eventMessage } from './convert.js';
import type { EventView } from './model.js';
import { formatPosition, NODE_GROUP, ORIGIN, type Position } from '../db/position.js';
import { readEvents, readEventsPerNode, type NodeEvent } from './store.js';

/** Events one round publishes at most. */
export const RELAY_BATCH_MAX = 500;
const PUBLISH_TIMEOUT_MS = 5_000;
const DUPLICATE_WINDOW_MS = 10 * 60_000;
const RETRY_DELAY_MAX_MS = 5_000;

/** The relay runs as the service itself, with no tenant. */
const RELAY: CallContext = { caller: { tenant_id: '', subject: 'stockroom-relay', roles: new Set() } };
const NO_FILTER = { types: [], product_ids: [], part_ids: [] };

const TRY_LEAD = sql('events_relay_try_lead', `select pg_try_advisory_xact_lock(hashtext('stockroom.events_relay'), hashtext($1)) as leading`);
const READ_PROGRESS = sql('events_relay_progress', `select node, xid::text, id::text from event_relays where name = $1`);
const SAVE_PROGRESS = sql(
  'events_relay_save',
  `insert into event_relays as r (name, node, xid, id, published) values ($1, $2::int, $3::xid8, $4::bigint, $5::bigint)
   on conflict (name, node) do update set xid = excluded.xid, id = excluded.id, published = r.published + excluded.published, updated_at = excluded.updated_at`,
);
const CITUS = sql('events_relay_citus', `select exists (select from pg_extension where extname = 'citus') as citus`);
// Citus: every node (group) that can hold shards, the coordinator's own too (a single-node Citus
// may have no node metadata), and a position row for each the relay has none on yet.
const NODES = sql('events_relay_nodes', `select groupid as node from pg_dist_node where noderole = 'primary' union select ${NODE_GROUP}`);
const ADD_NODES = sql('events_relay_add_nodes', `insert into event_relays (name, node) select $1, unnest($2::int[]) on conflict do nothing`);

/** Plain PostgreSQL is one node, group 0 (migration 0015a). */
const ONE_NODE = 0;

/** The NATS subject of an event: tenant dots become `~` (never in a tenant id), so each is one token. */
export function eventSubject(prefix: string, event: Pick<EventView, 'tenant_id' | 'type'>): string {
  return `${prefix}.${event.tenant_id.replaceAll('.', '~')}.${event.type}`;
}

/**
 * Citus: of `read` (each node's events in position order), those the relay
 * may publish: each node's up to its first event at or above the node's
 * frontier in `frontiers`, read by an earlier statement (file comment);
 * none of a node it has no frontier of yet.
 */
export function publishable(read: readonly NodeEvent[], frontiers: ReadonlyMap<number, bigint>): NodeEvent[] {
  const held = new Set<number>();
  return read.filter(({ node, event }) => {
    const frontier = frontiers.get(node);
    if (frontier === undefined || event.position.xid >= frontier) held.add(node);
    return !held.has(node);
  });
}

export interface RoundResult {
  /** False when another replica holds the lead. */
  readonly leading: boolean;
  readonly published: number;
  /** Why the round stopped early (broker unreachable); undefined when it did not. */
  readonly error?: unknown;
}

export class NatsRelay {
  private connection: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Whether the database is Citus (read once). */
  private distributed: boolean | undefined;
  /** Citus: the latest frontier read on each node (see the file comment). */
  private readonly frontiers = new Map<number, bigint>();

  constructor(
    private readonly runner: TransactionRunner,
    private readonly config: NatsConfig,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
    await this.connection?.close().catch(() => undefined);
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const result = await this.round();
        if (result.error !== undefined) throw result.error;
        failures = 0;
        if (result.published < RELAY_BATCH_MAX) await this.sleep(this.config.relay_interval_ms);
      } catch (error) {
        failures++;
        this.logger.warn({ err: error, failures }, 'event relay round failed; retrying');
        await this.sleep(Math.min(RETRY_DELAY_MAX_MS, this.config.relay_interval_ms * 2 ** Math.min(failures, 8)));
      }
    }
  }

  /** One round (see the file comment). Exported for tests through the class. */
  async round(): Promise<RoundResult> {
    const js = await this.jetstream();
    return this.runner.run(RELAY, async (tx) => {
      const [lead] = await tx.query<{ leading: boolean }>(TRY_LEAD, [this.config.relay_name]);
      if (!lead.leading) return { leading: false, published: 0 };
      this.distributed ??= (await tx.query<{ citus: boolean }>(CITUS, []))[0].citus;
      const after = await this.progress(tx);
      if (this.distributed && (await this.addNodes(tx, after))) return { leading: true, published: 0 };
      const batch = this.distributed ? await this.nodeBatch(tx) : await this.oneNodeBatch(tx, after);
      const acked = new Map<number, { position: Position; published: number }>();
      let error: unknown;
      for (const { node, event } of batch) {
        if (this.stopped) break;
        try {
          await this.publish(js, event);
        } catch (failure) {
          error = failure;
          break;
        }
        acked.set(node, { position: event.position, published: (acked.get(node)?.published ?? 0) + 1 });
      }
      let published = 0;
      for (const [node, progress] of acked) {
        await tx.query(SAVE_PROGRESS, [this.config.relay_name, node, String(progress.position.xid), String(progress.position.id), progress.published]);
        published += progress.published;
      }
      if (published > 0) tx.count('events_relayed', '', '', published);
      return { leading: true, published, error };
    }, { maintenance_task: EVENTS_RELAY_TASK });
  }

  /** Plain PostgreSQL: the next events after the relay's position, below the read's own frontier. */
  private async oneNodeBatch(tx: Tx, after: ReadonlyMap<number, Position>): Promise<{ node: number; event: EventView }[]> {
    const batch = await readEvents(tx, after.get(ONE_NODE) ?? ORIGIN, NO_FILTER, RELAY_BATCH_MAX, true);
    return batch.events.map((event) => ({ node: ONE_NODE, event }));
  }

  /**
   * Citus: the next events of every node, each node's only up to its first
   * event at or above the frontier this relay last saw there (file
   * comment); the frontiers this read saw are kept for the next round.
   */
  private async nodeBatch(tx: Tx): Promise<NodeEvent[]> {
    const read = await readEventsPerNode(tx, this.config.relay_name, RELAY_BATCH_MAX);
    const ready = publishable(read, this.frontiers);
    for (const { node, frontier } of read) if (frontier > (this.frontiers.get(node) ?? 0n)) this.frontiers.set(node, frontier);
    return ready;
  }

  /**
   * Citus: gives the relay a position (the origin) on every node it has
   * none on, which its read joins; true when it did (the round then ends:
   * a read after writing a reference table in one transaction would run
   * serially).
   */
  private async addNodes(tx: Tx, after: ReadonlyMap<number, Position>): Promise<boolean> {
    const missing = (await tx.query<{ node: number }>(NODES, [])).map((row) => row.node).filter((node) => !after.has(node));
    if (missing.length > 0) await tx.query(ADD_NODES, [this.config.relay_name, missing]);
    return missing.length > 0;
  }

  /** The relay's position on each node it has published from. */
  private async progress(tx: Tx): Promise<Map<number, Position>> {
    const rows = await tx.query<{ node: number; xid: string; id: string }>(READ_PROGRESS, [this.config.relay_name]);
    return new Map(rows.map((row) => [row.node, { xid: BigInt(row.xid), id: BigInt(row.id) }]));
  }

  private async publish(js: JetStreamClient, event: EventView): Promise<void> {
    const message_headers = headers();
    message_headers.set('Stockroom-Position', formatPosition(event.position));
    await js.publish(eventSubject(this.config.subject_prefix, event), toJsonString(EventSchema, eventMessage(event)), {
      msgID: event.event_id,
      headers: message_headers,
      timeout: PUBLISH_TIMEOUT_MS,
    });
  }

  /** Connects (once; the client reconnects by itself) and makes sure the stream exists. */
  private async jetstream(): Promise<JetStreamClient> {
    if (this.js !== undefined && this.connection !== undefined && !this.connection.isClosed()) return this.js;
    await this.connection?.close().catch(() => undefined);
    this.connection = await connect({
      servers: [...this.config.servers],
      name: `stockroom-relay-${this.config.relay_name}`,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: 2_000,
    });
    const manager = await jetstreamManager(this.connection);
    const subjects = [`${this.config.subject_prefix}.>`];
    try {
      await manager.streams.info(this.config.stream);
    } catch {
      await manager.streams.add({ name: this.config.stream, subjects, duplicate_window: nanos(DUPLICATE_WINDOW_MS) });
    }
    this.js = jetstream(this.connection);
    return this.js;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
