/**
 * OpenTelemetry traces reach an OTLP/HTTP endpoint: a small collector in the
 * test receives the spans of one Reserve sent by a grpc-js client with a W3C
 * traceparent, and checks the parent chain, the RPC and database attributes,
 * that no SQL parameter leaks, and that the call's log lines carry its trace id.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type * as grpc from '@grpc/grpc-js';
import { createLogger } from '../src/server/logger.js';
import { call, startStockroom, uniqueTenant, type TestStockroom } from './support/harness.js';
import { eventually } from './support/wait.js';

const INVENTORY = 'stockroom.inventory.v1.InventoryService';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
}

/** OTLP/JSON encodes ids as hex; accept base64 too, as some versions sent it. */
function hexId(id: string | undefined): string | undefined {
  if (id === undefined || id === '') return undefined;
  return /^[0-9a-f]+$/.test(id) ? id : Buffer.from(id, 'base64').toString('hex');
}

function attribute(span: OtlpSpan, key: string): unknown {
  const value = span.attributes.find((a) => a.key === key)?.value;
  if (value === undefined) return undefined;
  const [only] = Object.values(value);
  return typeof only === 'string' && 'intValue' in value ? Number(only) : only;
}

let collector: http.Server;
let collector_url: string;
const received: OtlpSpan[] = [];
const paths: string[] = [];
const log_lines: Record<string, unknown>[] = [];
/** When set, the collector refuses exports (HTTP 400) and records nothing. */
let refusing = false;
let stockroom: TestStockroom;
let client: grpc.Client;

beforeAll(async () => {
  collector = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (refusing) {
        response.writeHead(400, { 'content-type': 'application/json' });
        response.end('{"message":"refused by the test"}');
        return;
      }
      paths.push(`${request.method} ${request.url} ${request.headers['content-type']}`);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const resource of body.resourceSpans ?? []) {
        for (const scope of resource.scopeSpans ?? []) for (const span of scope.spans ?? []) received.push({ ...span, traceId: hexId(span.traceId), spanId: hexId(span.spanId), parentSpanId: hexId(span.parentSpanId) });
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  collector_url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) log_lines.push(JSON.parse(line));
      done();
    },
  });
  stockroom = await startStockroom(
    { OTEL_EXPORTER_OTLP_ENDPOINT: collector_url, OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_SERVICE_NAME: 'stockroom-test', STOCKROOM_LOG_LEVEL: 'info' },
    { logger: createLogger('info', sink) },
  );
  client = stockroom.grpcClient(INVENTORY);
});

afterAll(async () => {
  await stockroom?.close();
  await new Promise((resolve) => collector?.close(resolve));
});

async function spansOf(trace_id: string, name: string): Promise<OtlpSpan[]> {
  const named = (spans: OtlpSpan[]) => spans.some((span) => span.name === name);
  const spans = await eventually(() => received.filter((span) => span.traceId === trace_id), named);
  if (!named(spans)) throw new Error(`no span ${name} of trace ${trace_id} arrived; got ${received.length} spans`);
  return spans;
}

test('the spans of one Reserve arrive over OTLP/HTTP under the trace and parent the client sent', async () => {
  const tenant = uniqueTenant('trace');
  const token = await stockroom.token({ tenant });
  await call(client, 'CreateItem', { productId: 'SECRET-PRODUCT', sku: 'SKU-1', name: 'Widget', reorderPoint: 0 }, token);
  await call(client, 'RecordInbound', { productId: 'SECRET-PRODUCT', quantity: 5, reference: 'PO-1' }, token);

  const trace_id = '4bf92f3577b34da6a3ce929d0e0e4736';
  const client_span_id = '00f067aa0ba902b7';
  await call(client, 'Reserve', { items: [{ productId: 'SECRET-PRODUCT', quantity: 2 }], reference: 'ORDER-SECRET' }, token, {
    metadata: { traceparent: `00-${trace_id}-${client_span_id}-01` },
  });

  const spans = await spansOf(trace_id, `${INVENTORY}/Reserve`);
  expect(paths[0]).toMatch(/^POST \/v1\/traces application\/json/);
  const server = spans.find((span) => span.name === `${INVENTORY}/Reserve`)!;
  expect(server.parentSpanId).toBe(client_span_id);
  expect(server.kind).toBe(2); // SPAN_KIND_SERVER
  expect(attribute(server, 'rpc.system')).toBe('grpc');
  expect(attribute(server, 'rpc.service')).toBe(INVENTORY);
  expect(attribute(server, 'rpc.method')).toBe('Reserve');
  expect(attribute(server, 'rpc.grpc.status_code')).toBe(0);

  const transaction = spans.find((span) => span.name === 'transaction');
  expect(transaction?.parentSpanId).toBe(server.spanId);
  expect(attribute(transaction!, 'stockroom.transaction.outcome')).toBe('commit');
  const statements = spans.filter((span) => span.parentSpanId === transaction!.spanId);
  expect(statements.length).toBeGreaterThan(0);
  for (const statement of statements) {
    expect(statement.name).toMatch(/^[a-z_]+$/);
    expect(attribute(statement, 'db.system.name')).toBe('postgresql');
    expect(attribute(statement, 'db.query.summary')).toBe(statement.name);
  }
  // Statement names, never parameters: nothing the client sent appears in any span.
  expect(JSON.stringify(spans)).not.toMatch(/SECRET|ORDER-SECRET/);

  const reserve_lines = log_lines.filter((line) => line.msg === 'rpc' && line.method === `${INVENTORY}/Reserve`);
  expect(reserve_lines).toHaveLength(1);
  expect(reserve_lines[0].trace_id).toBe(trace_id);
  expect(reserve_lines[0].span_id).toBe(server.spanId);
});

test('a call without traceparent starts its own trace; its log line names it', async () => {
  const token = await stockroom.token({ tenant: uniqueTenant('trace') });
  const before = log_lines.length;
  await call(client, 'ListItems', {}, token);
  const line = log_lines.slice(before).find((entry) => entry.msg === 'rpc' && entry.method === `${INVENTORY}/ListItems`);
  expect(line?.trace_id).toMatch(/^[0-9a-f]{32}$/);
  const spans = await spansOf(line!.trace_id as string, `${INVENTORY}/ListItems`);
  expect(spans.find((span) => span.name === `${INVENTORY}/ListItems`)?.parentSpanId).toBeUndefined();
});

test('a collector that refuses spans shows up as a warning in the log, and calls go on', async () => {
  const token = await stockroom.token({ tenant: uniqueTenant('trace') });
  refusing = true;
  try {
    await call(client, 'ListItems', {}, token);
    await eventually(() => log_lines.some((line) => String(line.msg).startsWith('opentelemetry:')), Boolean);
    expect(log_lines.find((line) => String(line.msg).startsWith('opentelemetry:'))).toMatchObject({ level: 40 });
  } finally {
    refusing = false;
  }
});

describe('the OTEL_* settings', () => {
  test('tracing is off without an endpoint, and the base endpoint gets /v1/traces', async () => {
    const { loadConfig } = await import('../src/server/config.js');
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing?.traces_url).toBe('http://collector:4318/v1/traces');
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom' }).tracing?.traces_url).toBe('http://b:4318/custom');
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_SDK_DISABLED: 'true' }).tracing).toBeUndefined();
    const tracing = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,service.name=inv' }).tracing;
    expect(tracing).toMatchObject({ sampler: 'parentbased_traceidratio', sampler_ratio: 0.25, service_name: 'inv', resource_attributes: { 'deployment.environment': 'prod' } });
  });

  test('what cannot work is refused at start, naming the variable', async () => {
    const { loadConfig } = await import('../src/server/config.js');
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER/);
    expect(() => loadConfig({ STOCKROOM_METRICS_BEARER_TOKEN: 'short' })).toThrow(/STOCKROOM_METRICS_BEARER_TOKEN/);
  });
});
