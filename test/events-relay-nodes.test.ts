/**
 * The NATS relay on Citus (migration 0015a) reads every node's events in
 * one statement, each shard below its own snapshot's frontier; it publishes
 * a node's events only below a frontier of that node read earlier, so a
 * transaction one shard had not seen end is never passed by a later one
 * another shard returned. The rule itself, on events as the read returns
 * them (the Citus run of events-nats relays through it for real).
 */
import { publishable } from '../src/events/relay.js';
import type { NodeEvent } from '../src/events/store.js';
import type { EventView } from '../src/events/model.js';

function read(node: number, xid: bigint, id: bigint, frontier: bigint): NodeEvent {
  return { node, frontier, event: { event_id: `${node}-${xid}-${id}`, position: { xid, id } } as EventView };
}

const ids = (events: NodeEvent[]) => events.map((event) => event.event.event_id);

test("a node's events go out up to its first one at or above the frontier read earlier, in order", () => {
  const batch = [read(1, 100n, 1n, 120n), read(1, 104n, 2n, 120n), read(1, 110n, 3n, 120n), read(1, 111n, 4n, 120n)];
  expect(ids(publishable(batch, new Map([[1, 110n]])))).toEqual(['1-100-1', '1-104-2']);
});

test('a node the relay has read no frontier of yet waits: this read\'s frontiers are for the next round', () => {
  const batch = [read(1, 100n, 1n, 120n)];
  expect(publishable(batch, new Map())).toEqual([]);
  expect(publishable(batch, new Map([[2, 500n]]))).toEqual([]);
});

test('one node held back does not hold back another', () => {
  const batch = [read(2, 90n, 7n, 95n), read(1, 100n, 1n, 120n), read(2, 91n, 8n, 95n), read(1, 101n, 2n, 120n)];
  expect(ids(publishable(batch, new Map([[1, 100n], [2, 95n]])))).toEqual(['2-90-7', '2-91-8']);
});
