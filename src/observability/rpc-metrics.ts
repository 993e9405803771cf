/**
 * RPC metrics in go-grpc-prometheus' shape, recorded by an interceptor.
 * The series of each method are made once and cached by its descriptor, so
 * a call costs a few property increments and one histogram observation,
 * with no label objects built per call.
 */
import type { DescMethod, DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { CALLER_KEY } from '../server/context.js';
import { reasonOf } from '../server/interceptors.js';
import type { Families } from './families.js';
import type { Count, Distribution } from './series.js';
import type { TenantsSeen } from './tenants-seen.js';

const GRPC_TYPE: Record<DescMethod['methodKind'], string> = {
  unary: 'unary',
  server_streaming: 'server_stream',
  client_streaming: 'client_stream',
  bidi_streaming: 'bidi_stream',
};

/** The grpc_code label: Go's codes.Code names ("OK", "FailedPrecondition"), which Connect's enum shares. */
export function grpcCodeName(code: Code | 0): string {
  return code === 0 ? 'OK' : Code[code];
}

const INSUFFICIENT_STOCK = 'INSUFFICIENT_STOCK';
/** Distinct ErrorInfo reasons kept as label values; past this, "OTHER". Reasons come from code, so this is a guard, not a limit in practice. */
const REASONS_MAX = 100;
const REASON_FORMAT = /^[A-Z][A-Z0-9_]{0,63}$/;

interface MethodSeries {
  readonly grpc_type: string;
  readonly grpc_service: string;
  readonly grpc_method: string;
  readonly started: Count;
  readonly handling: Distribution;
  readonly received: Count;
  readonly sent: Count;
  readonly in_flight: Count;
  /** By code, made on first use. */
  readonly handled: (Count | undefined)[];
  /** By `code/reason`. */
  readonly errors: Map<string, Count>;
  insufficient?: Count;
}

export class RpcMetrics {
  private readonly series = new WeakMap<DescMethod, MethodSeries>();
  private readonly reasons = new Set<string>();

  constructor(
    private readonly families: Families,
    private readonly tenants: TenantsSeen,
  ) {}

  /**
   * Makes every method's series now, at zero, as go-grpc-prometheus'
   * InitializeMetrics does: a method nobody called yet shows 0 instead of
   * nothing, so rates and alerts over it work from the first scrape.
   */
  prepare(services: readonly DescService[]): void {
    for (const service of services) {
      for (const method of service.methods) {
        const series = this.seriesOf(method);
        series.handled[0] ??= this.handledSeries(series, 0);
      }
    }
  }

  interceptor(): Interceptor {
    return (next) => async (request) => {
      const series = this.seriesOf(request.method);
      series.started.value++;
      series.in_flight.value++;
      if (!request.stream) series.received.value++;
      const started_at = performance.now();
      const finish = (error?: unknown) => {
        series.in_flight.value--;
        series.handling.observe((performance.now() - started_at) / 1000);
        this.handled(series, error);
        const caller = request.contextValues.get(CALLER_KEY);
        if (caller !== undefined) this.tenants.note(caller.tenant_id);
      };
      try {
        const response = await next(request);
        if (!response.stream) {
          series.sent.value++;
          finish();
          return response;
        }
        return { ...response, message: countMessages(response, series.sent, finish, request.signal) };
      } catch (error) {
        finish(error);
        throw error;
      }
    };
  }

  private seriesOf(method: DescMethod): MethodSeries {
    let series = this.series.get(method);
    if (series === undefined) {
      const labels = [GRPC_TYPE[method.methodKind], method.parent.typeName, method.name];
      const { families } = this;
      series = {
        grpc_type: labels[0],
        grpc_service: method.parent.typeName,
        grpc_method: method.name,
        started: families.started.series(...labels),
        handling: families.handling.series(...labels),
        received: families.received.series(...labels),
        sent: families.sent.series(...labels),
        in_flight: families.in_flight.series(...labels),
        handled: [],
        errors: new Map(),
      };
      this.series.set(method, series);
    }
    return series;
  }

  private handled(series: MethodSeries, error: unknown): void {
    const connect_error = error === undefined ? undefined : ConnectError.from(error);
    const code = connect_error?.code ?? 0;
    const handled = (series.handled[code] ??= this.handledSeries(series, code));
    handled.value++;
    if (connect_error === undefined) return;
    const reason = this.boundedReason(reasonOf(connect_error));
    const key = `${code}/${reason}`;
    let errors = series.errors.get(key);
    if (errors === undefined) {
      errors = this.families.errors.series(series.grpc_service, series.grpc_method, grpcCodeName(code), reason);
      series.errors.set(key, errors);
    }
    errors.value++;
    if (reason === INSUFFICIENT_STOCK) (series.insufficient ??= this.families.insufficient.series(series.grpc_service, series.grpc_method)).value++;
  }

  private handledSeries(series: MethodSeries, code: Code | 0): Count {
    return this.families.handled.series(series.grpc_type, series.grpc_service, series.grpc_method, grpcCodeName(code));
  }

  /** The reason as a label value: known shape and a bounded number of distinct values. */
  private boundedReason(reason: string | undefined): string {
    if (reason === undefined || reason === '') return 'NONE';
    if (this.reasons.has(reason)) return reason;
    if (!REASON_FORMAT.test(reason) || this.reasons.size >= REASONS_MAX) return 'OTHER';
    this.reasons.add(reason);
    return reason;
  }
}

/**
 * Counts each response message of a stream and reports when the stream
 * ends: completed, failed, or ended because the client went away or its
 * deadline passed (a handler may return quietly then, as Health/Watch does).
 */
function countMessages<M>(response: { message: AsyncIterable<M> }, sent: Count, finish: (error?: unknown) => void, signal: AbortSignal): AsyncIterable<M> {
  const messages = response.message;
  const cancelled = () => (signal.reason instanceof ConnectError ? signal.reason : new ConnectError('the client went away', Code.Canceled));
  return (async function* counted() {
    let outcome: unknown = new ConnectError('the client stopped reading the stream', Code.Canceled);
    try {
      for await (const message of messages) {
        sent.value++;
        yield message;
      }
      outcome = signal.aborted ? cancelled() : undefined;
    } catch (error) {
      outcome = error;
      throw error;
    } finally {
      finish(outcome);
    }
  })();
}
