/**
 * What the metrics cost per call, measured in-process where the shared
 * machine's noise cannot hide a few microseconds: the RPC metrics
 * interceptor around a trivial handler (OK and INSUFFICIENT_STOCK paths) and
 * the transaction observer's calls per transaction, each against the same
 * loop without them. Compare the result with the server CPU per operation of
 * `npm run bench` (about 1 ms): the budget is 3% of throughput.
 *
 *   npm run build && node dist/bench/metrics-cost.js
 */
import { Code, ConnectError, createContextValues, type Interceptor, type UnaryRequest, type UnaryResponse } from '@connectrpc/connect';
import { pino } from 'pino';
import { InventoryService } from '../gen/stockroom/inventory/v1/inventory_service_pb.js';
import { Observability } from '../src/observability/observability.js';
import { loadConfig } from '../src/server/config.js';
import { toConnectError } from '../src/server/errors.js';
import { InsufficientStockError } from '../src/shared/errors.js';

const CALLS = 200_000;

function request(): UnaryRequest {
  const method = InventoryService.method.reserve;
  return {
    stream: false,
    service: InventoryService,
    method,
    requestMethod: 'POST',
    url: 'http://127.0.0.1/stockroom.inventory.v1.InventoryService/Reserve',
    signal: new AbortController().signal,
    header: new Headers(),
    contextValues: createContextValues(),
    message: {},
  } as unknown as UnaryRequest;
}

async function nanosecondsPerCall(interceptors: Interceptor[], fails: boolean): Promise<number> {
  const refused = toConnectError(new InsufficientStockError([{ key: 'A', requested: '2', available: '1' }], 'productId'), 'stockroom.inventory.v1', pino({ level: 'silent' }));
  const handler = async (): Promise<UnaryResponse> => {
    if (fails) throw refused;
    return { stream: false } as UnaryResponse;
  };
  const chain = interceptors.reduceRight((next, interceptor) => interceptor(next as never) as never, handler as never) as unknown as (r: UnaryRequest) => Promise<unknown>;
  const call = request();
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) await chain(call).catch(() => {});
  };
  await run(20_000); // warm-up: JIT and the cached label children
  const started = process.hrtime.bigint();
  await run(CALLS);
  return Number(process.hrtime.bigint() - started) / CALLS;
}

function observerNanoseconds(observability: Observability): number {
  const observer = observability.transactionObserver()!;
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) {
    observer.connectionAcquired(0.0001);
    observer.attemptEnded('commit', undefined, undefined);
  }
  return Number(process.hrtime.bigint() - started) / CALLS;
}

const observability = new Observability(loadConfig({ STOCKROOM_METRICS_HEALTH_INTERVAL_MS: '0' }), pino({ level: 'silent' }));
const metrics = observability.metricsInterceptors();
const results: Record<string, string> = {};
for (const fails of [false, true]) {
  const bare = await nanosecondsPerCall([], fails);
  const measured = await nanosecondsPerCall(metrics, fails);
  results[fails ? 'RPC, INSUFFICIENT_STOCK' : 'RPC, OK'] = `${((measured - bare) / 1000).toFixed(2)} µs per call (${(bare / 1000).toFixed(2)} µs without metrics, ${(measured / 1000).toFixed(2)} with)`;
}
results['transaction observer'] = `${(observerNanoseconds(observability) / 1000).toFixed(2)} µs per transaction`;
for (const [what, figure] of Object.entries(results)) process.stdout.write(`${what.padEnd(26)} ${figure}\n`);
void Code;
void ConnectError;
await observability.stop();
