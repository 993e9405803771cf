/**
 * The latency of one order's two writes with nothing else in flight: a
 * Reserve of one unit of one product under a fresh reference, then the
 * CommitOutbound of that unit, each call awaited before the next is sent,
 * through a grpc-js client as an application would call. One call at a
 * time measures what each call costs, not how calls share the cores, so two
 * databases behind the same server code compare by their own cost
 * (bench/citus-ratio.ts).
 */
import type { Metadata } from '@grpc/grpc-js';
import { bearer, grpcCode, unary, type Clients, type Unary } from './load/grpc-client.js';
import type { ServerProcess } from './server-process.js';

/** One server with its database, ready to be called. */
export interface PairTarget {
  /** What the report calls it ("plain", "citus"). */
  readonly name: string;
  readonly server: ServerProcess;
  readonly clients: Clients;
  readonly token: string;
  readonly product_id: string;
}

/** Reserve and CommitOutbound take the same shape here: the lines, and the order's reference. */
interface OrderRequest {
  readonly items: readonly { readonly productId: string; readonly quantity: string }[];
  readonly reference: string;
}

export interface PairSamples {
  readonly pairs: number;
  /** Per call, in the order sent. */
  readonly reserve_ms: readonly number[];
  readonly commit_outbound_ms: readonly number[];
  /** Server process CPU (user + system) over these pairs, in 10 ms ticks of /proc: sum several rounds before dividing by pairs. */
  readonly server_cpu_ms: number;
}

/**
 * Sends `pairs` Reserve + CommitOutbound pairs to `target`, one call at a
 * time; references are `<tag>-<index>`. Stops between pairs once `signal`
 * is aborted.
 */
export async function runPairs(target: PairTarget, pairs: number, tag: string, signal: AbortSignal): Promise<PairSamples> {
  const reserve = unary(target.clients.inventory, 'Reserve');
  const commit_outbound = unary(target.clients.inventory, 'CommitOutbound');
  const metadata = bearer(target.token);
  const items = [{ productId: target.product_id, quantity: '1' }];
  const reserve_ms: number[] = [];
  const commit_outbound_ms: number[] = [];
  const cpu_before_ms = target.server.cpuMs();
  for (let index = 0; index < pairs; index++) {
    signal.throwIfAborted();
    const reference = `${tag}-${index}`;
    reserve_ms.push(await timed(target, 'Reserve', reserve, { items, reference }, metadata));
    commit_outbound_ms.push(await timed(target, 'CommitOutbound', commit_outbound, { items, reference }, metadata));
  }
  return { pairs, reserve_ms, commit_outbound_ms, server_cpu_ms: target.server.cpuMs() - cpu_before_ms };
}

/** The call's round trip in ms. A failed call ends the measurement: every call here should succeed. */
async function timed(target: PairTarget, method: string, call: Unary, request: OrderRequest, metadata: Metadata): Promise<number> {
  const started = performance.now();
  try {
    await call(request, metadata);
  } catch (error) {
    throw new Error(`${method} ${request.reference} on ${target.name} failed with ${grpcCode(error)}: ${(error as Error).message}\n${target.server.output.slice(-1000)}`);
  }
  return performance.now() - started;
}
