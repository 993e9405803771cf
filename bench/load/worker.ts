/**
 * The load process: drives one closed-loop run at a time, as the
 * orchestrator asks over IPC, against the service (gRPC), the trivial RPC
 * (grpc-echo) or the database directly (raw-db), and reports what it saw.
 */
import { Decimal } from '../../src/shared/decimal.js';
import { closedLoop } from './closed-loop.js';
import { bearer, connect, grpcCode, unary, type Clients, type Unary } from './grpc-client.js';
import type { FromWorker, InitMessage, Place, RunMessage, RunResult, ToWorker, Workload } from './protocol.js';
import { RawDb, rawErrorClass } from './raw-db.js';

const SUBJECT = 'bench';

let init: InitMessage | undefined;
let clients: Clients | undefined;
/** The bare echo server's (grpc-echo target). */
let echo_clients: Clients | undefined;
let raw: RawDb | undefined;
const stubs = new Map<string, Unary>();

function send(message: FromWorker): void {
  process.send!(message);
}

function stub(client: 'inventory' | 'parts' | 'health', method: string, bare = false): Unary {
  const key = `${bare ? 'bare.' : ''}${client}.${method}`;
  let found = stubs.get(key);
  if (!found) {
    found = unary((bare ? echo_clients : clients)![client], method);
    stubs.set(key, found);
  }
  return found;
}

function pick<T>(values: readonly T[]): T {
  return values[Math.floor(Math.random() * values.length)];
}

/** `count` distinct random values. */
function pickDistinct<T>(values: readonly T[], count: number): T[] {
  const chosen = new Set<T>();
  while (chosen.size < Math.min(count, values.length)) chosen.add(pick(values));
  return [...chosen];
}

type Next = () => (() => Promise<void>) | undefined;

function counter(calls_ok: Record<string, number>, name: string): void {
  calls_ok[name] = (calls_ok[name] ?? 0) + 1;
}

function serviceLoad(message: RunMessage, calls_ok: Record<string, number>): Next {
  const metadata = bearer(init!.tokens[message.tenant]);
  const workload: Workload = message.workload;
  let sequence = 0;
  switch (workload.kind) {
    case 'echo': {
      // The grpc-echo ceiling on the bare server; as the service target, Health/Check through Stockroom's stack.
      const check = stub('health', 'Check', message.target === 'grpc-echo');
      return () => async () => {
        await check({ service: '' }, metadata);
        counter(calls_ok, 'Check');
      };
    }
    case 'reserve-spread': {
      const reserve = stub('inventory', 'Reserve');
      const commit = stub('inventory', 'CommitOutbound');
      return () => async () => {
        const reference = `${message.run_tag}-${sequence++}`;
        const items = [{ productId: pick(workload.product_ids), quantity: '1' }];
        await reserve({ items, reference }, metadata);
        counter(calls_ok, 'Reserve');
        await commit({ items, reference }, metadata);
        counter(calls_ok, 'CommitOutbound');
      };
    }
    case 'reserve-hot': {
      const reserve = stub('inventory', 'Reserve');
      const items = [{ productId: workload.product_id, quantity: '1' }];
      return () => async () => {
        await reserve({ items, reference: `${message.run_tag}-${sequence++}` }, metadata);
        counter(calls_ok, 'Reserve');
      };
    }
    case 'check-availability': {
      const check = stub('inventory', 'CheckAvailability');
      return () => async () => {
        const items = pickDistinct(workload.product_ids, workload.lines).map((productId) => ({ productId, quantity: '1' }));
        const response = await check({ items }, metadata);
        if (response.items.length !== workload.lines) throw new Error('CheckAvailability answered for the wrong number of lines');
        counter(calls_ok, 'CheckAvailability');
      };
    }
    case 'fifo-issue': {
      const issue = stub('parts', 'IssueToWorkOrder');
      return fifoPlaces(workload, (place, index) => async () => {
        const response = await issue(
          { workOrderId: `${message.run_tag}-${index}`, partId: place.part_id, locationId: place.location_id, qty: workload.qty },
          metadata,
        );
        if (response.allocations.length === 0) throw new Error('IssueToWorkOrder took no layer');
        counter(calls_ok, 'IssueToWorkOrder');
      });
    }
  }
}

function fifoPlaces(workload: Extract<Workload, { kind: 'fifo-issue' }>, make: (place: Place, index: number) => () => Promise<void>): Next {
  let index = 0;
  return () => {
    if (index >= workload.schedule.length) return undefined;
    const current = index++;
    return make(workload.places[workload.schedule[current]], current);
  };
}

function rawLoad(message: RunMessage, calls_ok: Record<string, number>): Next {
  const db = (raw ??= new RawDb(init!.database_url, init!.pool_max, init!.lock_timeout_ms, init!.statement_timeout_ms));
  const tenant = message.tenant;
  const workload = message.workload;
  let sequence = 0;
  switch (workload.kind) {
    case 'echo':
      throw new Error('raw-db has no echo');
    case 'reserve-spread':
      return () => async () => {
        const reference = `${message.run_tag}-${sequence++}`;
        const lines = [{ product_id: pick(workload.product_ids), quantity: 1n }];
        await db.reserve(tenant, reference, lines);
        counter(calls_ok, 'Reserve');
        await db.commitOutbound(tenant, reference, lines, SUBJECT);
        counter(calls_ok, 'CommitOutbound');
      };
    case 'reserve-hot': {
      const lines = [{ product_id: workload.product_id, quantity: 1n }];
      return () => async () => {
        await db.reserve(tenant, `${message.run_tag}-${sequence++}`, lines);
        counter(calls_ok, 'Reserve');
      };
    }
    case 'check-availability':
      return () => async () => {
        const lines = pickDistinct(workload.product_ids, workload.lines).map((product_id) => ({ product_id, quantity: 1n }));
        await db.checkAvailability(tenant, lines);
        counter(calls_ok, 'CheckAvailability');
      };
    case 'fifo-issue': {
      const qty = new Decimal(workload.qty);
      return fifoPlaces(workload, (place, index) => async () => {
        await db.issue(tenant, place, `${message.run_tag}-${index}`, qty, SUBJECT);
        counter(calls_ok, 'IssueToWorkOrder');
      });
    }
  }
}

async function run(message: RunMessage): Promise<RunResult> {
  const calls_ok: Record<string, number> = {};
  const next = message.target === 'raw-db' ? rawLoad(message, calls_ok) : serviceLoad(message, calls_ok);
  const result = await closedLoop({
    concurrency: message.concurrency,
    warmup_ms: message.warmup_ms,
    measure_ms: message.measure_ms,
    next,
    classify: message.target === 'raw-db' ? rawErrorClass : grpcCode,
  });
  return { ...result, calls_ok };
}

process.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'init':
      init = message;
      clients = connect(message.address);
      echo_clients = connect(message.echo_address);
      send({ type: 'ready' });
      break;
    case 'run':
      run(message).then(
        (result) => send({ type: 'result', id: message.id, result }),
        (error: unknown) => send({ type: 'result', id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
      break;
    case 'stop':
      clients?.close();
      echo_clients?.close();
      void (raw?.close() ?? Promise.resolve()).finally(() => process.exit(0));
      break;
  }
});
