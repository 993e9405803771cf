/**
 * Metrics and traces for one running server: the Prometheus registry and
 * its families, the RPC interceptors, the TransactionRunner's observer, the
 * health gauges and the GET /metrics endpoint. One instance per server (not
 * prom-client's global registry), so two servers in one process (tests)
 * never mix their numbers.
 */
import { timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type http2 from 'node:http2';
import type { DescService } from '@bufbuild/protobuf';
import type { Interceptor } from '@connectrpc/connect';
import type pg from 'pg';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { TransactionObserver, TransactionTrace } from '../db/transaction.js';
import type { Config } from '../server/config.js';
import { DatabaseMetrics } from './database-metrics.js';
import { createFamilies, type Families, type PoolWatch } from './families.js';
import { HealthGauges, type RegisteredHealthSource } from './health-gauges.js';
import { RpcMetrics } from './rpc-metrics.js';
import { TenantsSeen } from './tenants-seen.js';
import { Tracing } from './tracing.js';

export const METRICS_PATH = '/metrics';

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

export class Observability {
  private readonly registry = new Registry();
  private readonly pool_watch: PoolWatch = {};
  private readonly families: Families;
  private readonly tenants: TenantsSeen;
  private readonly rpc: RpcMetrics;
  private readonly database: DatabaseMetrics;
  private readonly tracing: Tracing | undefined;
  private health: HealthGauges | undefined;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    this.families = createFamilies(this.registry, this.pool_watch);
    // Event loop lag, heap, GC, CPU, handles: prom-client's Node collectors.
    if (config.metrics.enabled) collectDefaultMetrics({ register: this.registry });
    this.tenants = new TenantsSeen(config.metrics.health_tenants_max);
    this.rpc = new RpcMetrics(this.families, this.tenants);
    this.tracing = config.tracing ? new Tracing(config.tracing, logger) : undefined;
    this.database = new DatabaseMetrics(this.families, this.tracing);
    if (config.tracing) logger.info({ traces_url: config.tracing.traces_url, sampler: config.tracing.sampler }, 'tracing on: exporting spans over OTLP/HTTP');
  }

  get metrics_enabled(): boolean {
    return this.config.metrics.enabled;
  }

  /** Runs outermost, so the span covers every interceptor and the log line carries its trace id. */
  tracingInterceptors(): Interceptor[] {
    return this.tracing ? [this.tracing.interceptor()] : [];
  }

  /** Shows every method of these services at zero before its first call. */
  prepareMethods(services: readonly DescService[]): void {
    if (this.metrics_enabled) this.rpc.prepare(services);
  }

  /** Runs outside the error interceptor, so it sees the final status and ErrorInfo. */
  metricsInterceptors(): Interceptor[] {
    return this.metrics_enabled ? [this.rpc.interceptor()] : [];
  }

  /** For TransactionRunner; undefined when there is nothing to observe. */
  transactionObserver(): TransactionObserver | undefined {
    if (this.metrics_enabled) return this.database;
    const tracing = this.tracing;
    if (tracing === undefined) return undefined;
    return {
      connectionAcquired: () => {},
      attemptEnded: () => {},
      backendCancelled: () => {},
      traceTransaction: (read_only): TransactionTrace => tracing.traceTransaction(read_only),
    };
  }

  watchPool(pool: pg.Pool, pool_max: number): void {
    this.pool_watch.pool = pool;
    this.families.pool_max.set(pool_max);
  }

  /** Starts refreshing the health gauges of these services (none when metrics or the interval are off). */
  startHealthGauges(sources: readonly RegisteredHealthSource[]): void {
    if (!this.metrics_enabled) return;
    this.health = new HealthGauges(this.families, sources, this.tenants, this.logger);
    this.health.start(this.config.metrics.health_interval_ms);
  }

  /** Answers GET /metrics if this request is one; false lets the RPC handler have it. */
  serves(request: Request): boolean {
    return this.metrics_enabled && (request.url === METRICS_PATH || request.url?.startsWith(`${METRICS_PATH}?`) === true);
  }

  async serve(request: Request, response: Response): Promise<void> {
    const bearer = this.config.metrics.bearer_token;
    if (bearer !== undefined && !sameSecret(request.headers.authorization, `Bearer ${bearer}`)) {
      response.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer realm="metrics"' });
      response.end('a bearer token is required for /metrics (STOCKROOM_METRICS_BEARER_TOKEN)\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      response.end('use GET\n');
      return;
    }
    try {
      const body = await this.registry.metrics();
      response.writeHead(200, { 'content-type': this.registry.contentType, 'cache-control': 'no-store' });
      if (request.method === 'HEAD') response.end();
      else response.end(body);
    } catch (error) {
      this.logger.error({ err: error }, 'could not render /metrics');
      response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('metrics unavailable\n');
    }
  }

  /** Stops the refresh and exports the spans still buffered. */
  async stop(): Promise<void> {
    await this.health?.stop();
    await this.tracing?.shutdown().catch((error: unknown) => this.logger.warn({ err: error }, 'could not export the last spans'));
  }
}

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
