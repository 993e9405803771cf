/**
 * What metrics and tracing cost per call, measured in-process where the
 * shared machine's noise cannot hide a few microseconds: the interceptors
 * around a trivial handler (OK and INSUFFICIENT_STOCK paths) and the
 * transaction observer's calls per transaction, each against the same loop
 * without them. Tracing exports every span to a local OTLP sink; its time
 * includes the export (flushed inside the measured window). Compare with the
 * server CPU per operation of `npm run bench` (about 1 ms): the budget for
 * metrics is 3% of throughput.
 *
 *   npm run build && node dist/bench/observability-cost.js
 */
import { createContextValues, type Interceptor, type UnaryRequest, type UnaryResponse } from '@connectrpc/connect';
import { pino } from 'pino';
import { InventoryService } from '../gen/stockroom/inventory/v1/inventory_service_pb.js';
import { Observability } from '../src/observability/observability.js';
import { loadConfig } from '../src/server/config.js';
import { toConnectError } from '../src/server/errors.js';
import { InsufficientStockError } from '../src/shared/errors.js';
import { startOtlpSink } from './otlp-sink.js';

const CALLS = 100_000;
const STATEMENTS_PER_TRANSACTION = 3;

function request(): UnaryRequest {
  return {
    stream: false,
    service: InventoryService,
    method: InventoryService.method.reserve,
    requestMethod: 'POST',
    url: 'http://127.0.0.1/stockroom.inventory.v1.InventoryService/Reserve',
    signal: new AbortController().signal,
    header: new Headers(),
    contextValues: createContextValues(),
    message: {},
  } as unknown as UnaryRequest;
}

/** Nanoseconds per call through these interceptors; `settle` runs inside the measured window (span export). */
async function perCall(interceptors: Interceptor[], fails: boolean, settle: () => Promise<void> = async () => {}): Promise<number> {
  const refused = toConnectError(new InsufficientStockError([{ key: 'A', requested: '2', available: '1' }], 'productId'), 'stockroom.inventory.v1', pino({ level: 'silent' }));
  const handler = async (): Promise<UnaryResponse> => {
    if (fails) throw refused;
    return { stream: false } as UnaryResponse;
  };
  const chain = interceptors.reduceRight((next, interceptor) => interceptor(next as never) as never, handler as never) as unknown as (r: UnaryRequest) => Promise<unknown>;
  const call = request();
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await chain(call).catch(() => {});
      // Let timers run (the span exporter), as they do between calls in a server.
      if (i % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await run(10_000); // warm-up: JIT and the per-method series
  const started = process.hrtime.bigint();
  await run(CALLS);
  await settle();
  return Number(process.hrtime.bigint() - started) / CALLS;
}

function perTransaction(observability: Observability): number {
  const observer = observability.transactionObserver()!;
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) {
    observer.connectionAcquired(0.0001);
    const trace = observer.traceTransaction(false);
    for (let s = 0; s < STATEMENTS_PER_TRANSACTION; s++) trace?.statement('inventory_reserve_one').end();
    observer.attemptEnded('commit', undefined, undefined);
    trace?.end('commit');
  }
  return Number(process.hrtime.bigint() - started) / CALLS;
}

const µs = (nanoseconds: number) => `${(nanoseconds / 1000).toFixed(2)} µs`;
const silent = pino({ level: 'silent' });
const sink = await startOtlpSink();
const observability = (tracing: boolean) =>
  new Observability(
    loadConfig({ STOCKROOM_METRICS_HEALTH_INTERVAL_MS: '0', ...(tracing ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: 'always_on', OTEL_BSP_SCHEDULE_DELAY: '100' } : {}) }),
    silent,
  );
const lines: string[] = [];
for (const fails of [false, true]) {
  const what = fails ? 'RPC, INSUFFICIENT_STOCK' : 'RPC, OK';
  const bare = await perCall([], fails);
  const metrics = observability(false);
  const with_metrics = await perCall(metrics.metricsInterceptors(), fails);
  const traced = observability(true);
  // stop() exports the last spans: inside the window, so the export is paid for.
  const with_tracing = await perCall([...traced.tracingInterceptors(), ...traced.metricsInterceptors()], fails, () => traced.stop());
  lines.push(`${what.padEnd(24)} metrics +${µs(with_metrics - bare)} per call; metrics and tracing +${µs(with_tracing - bare)} (bare ${µs(bare)})`);
}
const traced = observability(true);
lines.push(`${'transaction'.padEnd(24)} metrics ${µs(perTransaction(observability(false)))}; metrics and tracing (${STATEMENTS_PER_TRANSACTION} statement spans, export not included) ${µs(perTransaction(traced))}`);
await traced.stop();
for (const line of lines) process.stdout.write(`${line}\n`);
await sink.close();
