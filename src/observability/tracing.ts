/**
 * OpenTelemetry traces, on only when an OTLP endpoint is configured
 * (config.ts reads the standard OTEL_* variables): a server span per RPC
 * with the RPC semantic conventions, continuing the caller's W3C
 * `traceparent`; a child span per transaction and per SQL statement (its
 * name, never its parameters). Spans leave in batches over OTLP/HTTP.
 *
 * With tracing off none of this is constructed: the interceptor is not
 * installed and the runner asks for no spans.
 */
import { context, diag, DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import type { TransactionTrace } from '../db/transaction.js';
import { reasonOf } from '../server/interceptors.js';
import type { TracingConfig } from '../server/config.js';
import type { TransactionTracer } from './database-metrics.js';

const HEADERS: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

/** Server spans of these codes are errors (OpenTelemetry RPC conventions for gRPC servers); the rest are the caller's mistakes. */
const SERVER_ERROR_CODES = new Set<Code>([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

const DB_SYSTEM = { 'db.system.name': 'postgresql', 'db.system': 'postgresql' } as const;

let process_wide_installed = false;

/**
 * Spans follow the async work of a call through AsyncLocalStorage (one
 * manager per process), and the SDK's own complaints (a collector that
 * refuses or cannot be reached, spans dropped) reach our log as warnings
 * instead of vanishing.
 */
function installProcessWide(logger: Logger): void {
  if (process_wide_installed) return;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const warn = (message: string, ...args: unknown[]) => logger.warn({ otel: args.map(String).join(' ') }, `opentelemetry: ${message}`);
  diag.setLogger({ error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
  process_wide_installed = true;
}

function samplerOf(config: TracingConfig): Sampler {
  const ratio = new TraceIdRatioBasedSampler(config.sampler_ratio);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** The trace and span id of the active span, for every log line of a call (pino mixin). */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getSpan(context.active());
  if (span === undefined) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

export class Tracing implements TransactionTracer {
  private readonly provider: TracerProvider;
  private readonly tracer: Tracer;
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(config: TracingConfig, logger: Logger) {
    installProcessWide(logger);
    const exporter = new OTLPTraceExporter({ url: config.traces_url, headers: { ...config.headers } });
    this.provider = new TracerProvider({
      resource: resourceFromAttributes({ ...config.resource_attributes, 'service.name': config.service_name }),
      sampler: samplerOf(config),
      spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: config.export_delay_ms })],
    });
    this.tracer = this.provider.getTracer('stockroom');
  }

  /** Outermost interceptor: the server span is active for everything the call does, logging included. */
  interceptor(): Interceptor {
    return (next) => async (request) => {
      const parent = this.propagator.extract(ROOT_CONTEXT, request.header, HEADERS);
      const span = this.tracer.startSpan(
        `${request.service.typeName}/${request.method.name}`,
        {
          kind: SpanKind.SERVER,
          attributes: { 'rpc.system': 'grpc', 'rpc.service': request.service.typeName, 'rpc.method': request.method.name },
        },
        parent,
      );
      const active = trace.setSpan(parent, span);
      try {
        const response = await context.with(active, () => next(request));
        if (!response.stream) {
          endServerSpan(span);
          return response;
        }
        return { ...response, message: withinContext(response.message, active, (error) => endServerSpan(span, error)) };
      } catch (error) {
        endServerSpan(span, error);
        throw error;
      }
    };
  }

  traceTransaction(read_only: boolean): TransactionTrace {
    const span = this.tracer.startSpan('transaction', { kind: SpanKind.INTERNAL, attributes: { ...DB_SYSTEM, 'stockroom.read_only': read_only } });
    const active = trace.setSpan(context.active(), span);
    return {
      statement: (name) => {
        const statement = this.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes: { ...DB_SYSTEM, 'db.query.summary': name } }, active);
        return { end: (error) => endSpan(statement, error) };
      },
      end: (outcome, error) => {
        span.setAttribute('stockroom.transaction.outcome', outcome);
        endSpan(span, error);
      },
    };
  }

  /** Exports what is buffered and stops. */
  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}

function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    const state = (error as { code?: unknown } | null)?.code;
    span.setAttribute('error.type', typeof state === 'string' ? state : error instanceof Error ? error.name : 'error');
  }
  span.end();
}

function endServerSpan(span: Span, error?: unknown): void {
  const connect_error = error === undefined ? undefined : ConnectError.from(error);
  span.setAttribute('rpc.grpc.status_code', connect_error?.code ?? 0);
  if (connect_error !== undefined) {
    span.setAttribute('error.type', reasonOf(connect_error) ?? Code[connect_error.code]);
    if (SERVER_ERROR_CODES.has(connect_error.code)) span.setStatus({ code: SpanStatusCode.ERROR, message: connect_error.rawMessage });
  }
  span.end();
}

/** Runs each step of a response stream inside the call's context and ends the span when the stream does. */
function withinContext<M>(messages: AsyncIterable<M>, active: Context, end: (error?: unknown) => void): AsyncIterable<M> {
  return {
    [Symbol.asyncIterator]() {
      const iterator = messages[Symbol.asyncIterator]();
      let ended = false;
      const finish = (error?: unknown) => {
        if (!ended) end(error);
        ended = true;
      };
      return {
        next: () =>
          context.with(active, () => iterator.next()).then(
            (result) => {
              if (result.done) finish();
              return result;
            },
            (error: unknown) => {
              finish(error);
              throw error;
            },
          ),
        return: (value?: unknown) => {
          finish(new ConnectError('the client stopped reading the stream', Code.Canceled));
          return iterator.return?.(value) ?? Promise.resolve({ done: true as const, value: value as M });
        },
      };
    },
  };
}
