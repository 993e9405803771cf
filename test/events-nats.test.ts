/**
 * Delivery to NATS JetStream (issue 12): every committed event reaches the
 * stream once, in position order per tenant, with Nats-Msg-Id = the event
 * id, after the relay is stopped mid-stream and restarted, after the broker
 * is unreachable for a few seconds (a TCP proxy in front of it is stopped,
 * never the machine's nats-server), and with two replicas relaying at once.
 *
 * Needs nats-server with JetStream at 127.0.0.1:4222 (NATS_TEST_URL to
 * override); without it these tests are skipped, saying so.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import net from 'node:net';
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { call, rawQuery, startStockroom, uniqueTenant, type TestStockroom } from './support/harness.js';
import { eventually } from './support/wait.js';
import { parsePrometheusText, valueOf } from './support/prometheus-text.js';

const NATS = process.env.NATS_TEST_URL ?? '127.0.0.1:4222';
const [NATS_HOST, NATS_PORT] = [NATS.split(':')[0], Number(NATS.split(':')[1] ?? 4222)];

async function natsAvailable(): Promise<boolean> {
  try {
    const connection = await connect({ servers: [NATS], timeout: 1_000, reconnect: false });
    await jetstreamManager(connection).then((manager) => manager.getAccountInfo());
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

const available = await natsAvailable();
if (!available) console.warn(`SKIPPED: the NATS tests need nats-server with JetStream at ${NATS} (set NATS_TEST_URL); none answered`);
const describeNats = available ? describe : describe.skip;

/** A TCP proxy to nats-server that the test can cut and restore on the same port. */
class Proxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(NATS_PORT, NATS_HOST);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

describeNats('NATS JetStream relay', () => {
  let nats: NatsConnection;
  const streams: string[] = [];

  beforeAll(async () => {
    nats = await connect({ servers: [NATS] });
  });

  afterAll(async () => {
    const manager = await jetstreamManager(nats);
    for (const stream of streams) await manager.streams.delete(stream).catch(() => undefined);
    await nats.close();
  });

  function relayEnvironment(url: string) {
    const name = `t${Math.random().toString(36).slice(2, 10)}`;
    streams.push(`EVT_${name}`);
    return {
      STOCKROOM_NATS_URL: url,
      STOCKROOM_NATS_STREAM: `EVT_${name}`,
      STOCKROOM_NATS_SUBJECT_PREFIX: `evt_${name}`,
      STOCKROOM_NATS_RELAY_NAME: `relay_${name}`,
      STOCKROOM_NATS_RELAY_INTERVAL_MS: '50',
    };
  }

  /** Reads the tenant's messages from the stream until `count` arrived (or 20 s passed). */
  async function received(environment: Record<string, string>, tenant: string, count: number): Promise<JsMsg[]> {
    const deadline = Date.now() + 20_000;
    const manager = await jetstreamManager(nats);
    const stream_info = () => manager.streams.info(environment.STOCKROOM_NATS_STREAM).catch(() => undefined);
    await eventually(stream_info, (info) => info !== undefined && info.state.messages > 0, { timeout_ms: 20_000, interval_ms: 100 });
    // nats-server 2.9 knows one filter_subject per consumer (filter_subjects came with 2.10).
    const name = `c${Math.random().toString(36).slice(2, 10)}`;
    await manager.consumers.add(environment.STOCKROOM_NATS_STREAM, {
      durable_name: name,
      ack_policy: AckPolicy.None,
      filter_subject: `${environment.STOCKROOM_NATS_SUBJECT_PREFIX}.${tenant}.>`,
    });
    const consumer = await jetstream(nats).consumers.get(environment.STOCKROOM_NATS_STREAM, name);
    const messages: JsMsg[] = [];
    // A fetch on a loaded machine may end early ("heartbeats missed"): the next one goes on where it stopped.
    const fetchInto = async (max_messages: number) => {
      try {
        for await (const message of await consumer.fetch({ max_messages, expires: 1_000 })) messages.push(message);
      } catch {
        await sleep(100);
      }
    };
    while (messages.length < count && Date.now() < deadline) await fetchInto(1000);
    // Anything beyond `count` would be a duplicate: look a little longer.
    await fetchInto(10);
    return messages;
  }

  /** The tenant's events as ListEvents has them, in position order. */
  /**
   * Every event of the tenant, once `expected` of them are visible: readers
   * stop at the oldest transaction still open anywhere in the database, and
   * other test files' transactions hold that frontier back for a moment.
   */
  async function listed(stockroom: TestStockroom, token: string, expected: number): Promise<any[]> {
    const client = stockroom.grpcClient('stockroom.events.v1.EventService');
    const all_pages = async () => {
      const events: any[] = [];
      let page_token = '';
      do {
        const page = await call(client, 'ListEvents', { pageSize: 1000, pageToken: page_token }, token);
        events.push(...page.events);
        page_token = page.nextPageToken;
      } while (page_token !== '');
      return events;
    };
    return eventually(all_pages, (events) => events.length >= expected, { timeout_ms: 15_000, interval_ms: 100 });
  }

  function expectOnceInOrder(messages: JsMsg[], events: any[]): void {
    expect(messages.map((message) => message.headers?.get('Nats-Msg-Id'))).toEqual(events.map((event) => event.id));
    const decoded = messages.map((message) => message.json<any>());
    expect(decoded.map((event) => event.position)).toEqual(events.map((event) => event.position));
  }

  async function writeItems(stockroom: TestStockroom, token: string, from: number, count: number): Promise<void> {
    const client = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
    for (let index = from; index < from + count; index++) {
      await call(client, 'CreateItem', { productId: `P-${index}`, name: `Product ${index}`, reorderPoint: 2 }, token);
      await call(client, 'RecordInbound', { productId: `P-${index}`, quantity: 5 }, token);
    }
  }

  async function progress(relay_name: string): Promise<{ published: number; relayed: number }> {
    const [row] = await rawQuery<{ published: string; relayed: string }>(
      // The relay's position is per node (migration 0015a); each event is compared with its node's.
      `select (select sum(published) from event_relays where name = $1)::text as published,
              (select count(*) from events e join event_relays r on r.name = $1 and r.node = stockroom_node_group()
                where (e.xid, e.id) <= (r.xid, r.id))::text as relayed`,
      [relay_name],
    );
    return { published: Number(row?.published ?? 0), relayed: Number(row?.relayed ?? 0) };
  }

  test('every event once, in order, after the relay is stopped mid-stream and restarted', async () => {
    const environment = relayEnvironment(NATS);
    const tenant = uniqueTenant('nats');
    // A backlog of 2,000 committed events (written straight into the outbox) for the relay to work through.
    await rawQuery(
      `insert into events (tenant_id, type, product_id, item_id, caller)
       select $1, 'ITEM_UPDATED', 'P-' || g, gen_random_uuid(), 'seed' from generate_series(1, 2000) g`,
      [tenant],
    );
    let stockroom = await startStockroom(environment);
    const token = await stockroom.token({ tenant, roles: ['admin'] });
    await eventually(() => progress(environment.STOCKROOM_NATS_RELAY_NAME), (p) => p.published > 0, { timeout_ms: 20_000, interval_ms: 10 });
    await stockroom.close(); // mid-stream: the relay stops after the event it is publishing
    const [{ total }] = await rawQuery<{ total: string }>(`select count(*)::text as total from events`);
    const stopped_at = await progress(environment.STOCKROOM_NATS_RELAY_NAME);
    expect(stopped_at.published).toBeGreaterThan(0);
    expect(stopped_at.published).toBeLessThan(Number(total));

    stockroom = await startStockroom(environment);
    await writeItems(stockroom, token, 0, 10);
    const events = await listed(stockroom, token, 2_000 + 10 * 3);
    expect(events).toHaveLength(2_000 + 10 * 3);
    const messages = await received(environment, tenant, events.length);
    // The second server's stockroom_events_relayed_total counts what it relayed and committed.
    const relayed_here = async () => valueOf(parsePrometheusText(await (await fetch(`${stockroom.url}/metrics`)).text()), 'stockroom_events_relayed_total');
    const expected_here = async () => (await progress(environment.STOCKROOM_NATS_RELAY_NAME)).published - stopped_at.published;
    // Other test files' events keep the relay busy, so the two counts are read
    // as a pair until one pair agrees (a batch may commit between two reads).
    const counts = await eventually(async () => ({ relayed: await relayed_here(), expected: await expected_here() }), (c) => c.relayed === c.expected);
    expect(counts.relayed).toBe(counts.expected);
    await stockroom.close();
    expectOnceInOrder(messages, events);
  }, 55_000);

  test('every event once, in order, after nats-server is unreachable for a few seconds', async () => {
    const proxy = new Proxy();
    await proxy.start();
    const environment = relayEnvironment(`127.0.0.1:${proxy.port}`);
    const tenant = uniqueTenant('nats-outage');
    const stockroom = await startStockroom(environment);
    try {
      const token = await stockroom.token({ tenant, roles: ['admin'] });
      await writeItems(stockroom, token, 0, 5);
      await received(environment, tenant, 15);
      await proxy.stop();
      await writeItems(stockroom, token, 5, 5); // committed while the broker is away
      await sleep(3_000);
      await proxy.start();
      await writeItems(stockroom, token, 10, 5);
      const events = await listed(stockroom, token, 15 * 3);
      expect(events).toHaveLength(15 * 3);
      const messages = await received(environment, tenant, events.length);
      expectOnceInOrder(messages, events);
    } finally {
      await stockroom.close();
      await proxy.stop().catch(() => undefined);
    }
  }, 55_000);

  test('two replicas relaying at once never publish an event twice', async () => {
    const environment = relayEnvironment(NATS);
    const tenant = uniqueTenant('nats-replicas');
    const [first, second] = await Promise.all([startStockroom(environment), startStockroom(environment)]);
    try {
      const token = await first.token({ tenant, roles: ['admin'] });
      await Promise.all([writeItems(first, token, 0, 15), writeItems(second, token, 100, 15)]);
      const events = await listed(first, token, 30 * 3);
      expect(events).toHaveLength(30 * 3);
      const messages = await received(environment, tenant, events.length);
      expectOnceInOrder(messages, events);
      // Every event up to the relay's position was published exactly once between the two
      // (JetStream's dedupe would hide a second publish from the consumer; this counter would not).
      // Read as a pair until one pair agrees: on Citus the two counts are read in separate
      // steps, between which a round of the (still running) relays may commit.
      const relay = await eventually(() => progress(environment.STOCKROOM_NATS_RELAY_NAME), (p) => p.published === p.relayed);
      expect(relay.published).toBe(relay.relayed);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  }, 55_000);

  test('the subject is <prefix>.<tenant>.<type> and a low-stock alert arrives as such', async () => {
    const environment = relayEnvironment(NATS);
    const tenant = uniqueTenant('nats-alert');
    const stockroom = await startStockroom(environment);
    try {
      const token = await stockroom.token({ tenant, roles: ['admin'] });
      const subscription = nats.subscribe(`${environment.STOCKROOM_NATS_SUBJECT_PREFIX}.${tenant}.LOW_STOCK`, { max: 1 });
      const client = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
      await call(client, 'CreateItem', { productId: 'HOT', name: 'Hot', reorderPoint: 3 }, token);
      await call(client, 'RecordInbound', { productId: 'HOT', quantity: 5 }, token);
      await call(client, 'Reserve', { items: [{ productId: 'HOT', quantity: 2 }], reference: 'O-1' }, token);
      let alert: any;
      for await (const message of subscription) alert = { subject: message.subject, id: message.headers?.get('Nats-Msg-Id'), body: message.json<any>() };
      expect(alert.subject).toBe(`${environment.STOCKROOM_NATS_SUBJECT_PREFIX}.${tenant}.LOW_STOCK`);
      expect(alert.body).toMatchObject({ type: 'EVENT_TYPE_LOW_STOCK', productId: 'HOT', available: '3', reorderPoint: '3', tenantId: tenant });
      expect(alert.id).toBe(alert.body.id);
    } finally {
      await stockroom.close();
    }
  }, 30_000);
});
