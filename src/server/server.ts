/**
 * The listener: every service on ONE port, speaking gRPC, gRPC-Web and the
 * Connect protocol over HTTP/2 cleartext (or TLS) and HTTP/1.1 alike, so a
 * grpc-js client, a browser and `curl` with JSON all reach the same handlers.
 */
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { ConnectRouter } from '@connectrpc/connect';
import type { Logger } from 'pino';
import type { Observability } from '../observability/observability.js';
import { Health } from '../../gen/grpc/health/v1/health_pb.js';
import type { TokenVerifier } from './auth.js';
import type { Config } from './config.js';
import { consoleFiles } from './console.js';
import { applyDeadlines } from './deadlines.js';
import type { DetailMapper } from './errors.js';
import { Connections } from './connections.js';
import { errorBoundary } from './error-boundary.js';
import { HealthState, registerHealth } from './health.js';
import { nodeAdapter } from './node-adapter.js';
import { Admission, authInterceptor, errorInterceptor, loggingInterceptor } from './interceptors.js';
import type { ServiceModule } from './module.js';
import { DESCRIPTOR_SET_PATH, loadDescriptorSet } from './descriptor-set.js';
import { registerReflection } from './reflection.js';
import { strictRouter, unknownFieldInterceptor } from './strict-decoding.js';

export interface ServerDependencies {
  readonly config: Config;
  readonly logger: Logger;
  readonly verifier: TokenVerifier;
  readonly modules: readonly ServiceModule[];
  /** Answers true while the database does. */
  readonly probe: () => Promise<boolean>;
  /** Metrics (GET /metrics on this port) and traces. */
  readonly observability: Observability;
}

export interface RunningServer {
  readonly port: number;
  readonly url: string;
  readonly health: HealthState;
  /** Drains and closes; resolves once every session is closed. Safe to call twice. */
  shutdown(): Promise<void>;
}

// Health must keep answering while we drain, so load balancers see NOT_SERVING
// rather than connection errors.
const ALWAYS_ADMITTED = new Set(['grpc.health.v1.Health']);

export async function startServer(dependencies: ServerDependencies): Promise<RunningServer> {
  const { config, logger, modules, observability } = dependencies;
  const health = new HealthState({ probe: dependencies.probe, probe_interval_ms: 5_000 });
  // Each service answers Check and Watch by name (grpc-health-probe -service=…), following the database.
  for (const module of modules) health.setServing(module.service.typeName, true);
  const admission = new Admission(config.connection.max_calls_in_flight);
  const connections = new Connections(config.connection);
  const shutdown_controller = new AbortController();
  const mappers = new Map<string, DetailMapper>();
  for (const module of modules) if (module.details) mappers.set(module.service.typeName, module.details);

  const services = [...modules.map((module) => module.service), Health];
  observability.prepareMethods(services);
  const routes = (router: ConnectRouter) => {
    const strict = strictRouter(router);
    for (const module of modules) module.register(strict);
    registerHealth(router, health, { max_watches: config.connection.max_health_watches });
    registerReflection(router, { services, files: descriptor_files });
  };
  const descriptor_files = loadDescriptorSet();
  if (descriptor_files === undefined) logger.warn(`${DESCRIPTOR_SET_PATH} not found: reflection serves descriptors without comments or error detail files`);
  const admit = admission.interceptor();
  const handler = nodeAdapter({
    routes,
    interceptors: [
      ...observability.tracingInterceptors(),
      loggingInterceptor(logger),
      ...observability.metricsInterceptors(),
      errorInterceptor(logger, mappers),
      unknownFieldInterceptor(),
      (next) => {
        // Built once per method, not per call.
        const admitted = admit(next);
        return (request) => (ALWAYS_ADMITTED.has(request.service.typeName) ? next(request) : admitted(request));
      },
      authInterceptor(dependencies.verifier, { reflection_requires_auth: config.auth.reflection_requires_auth }),
    ],
    requestGate: errorBoundary(logger),
    readMaxBytes: config.max_message_bytes,
    writeMaxBytes: config.max_message_bytes,
    maxTimeoutMs: config.max_deadline_ms,
    shutdownSignal: shutdown_controller.signal,
  }, logger);

  const serve_console = consoleFiles();
  const listener = (request: http2.Http2ServerRequest | http.IncomingMessage, response: http2.Http2ServerResponse | http.ServerResponse) => {
    connections.callStarted(request, response);
    // Prometheus scrapes the service port (HTTP/1.1 or h2): one port to open, and /metrics lives as long as the server.
    if (observability.serves(request)) return void observability.serve(request, response);
    if (serve_console(request, response)) return; // GET /admin/*: the admin console's static files
    applyDeadlines(request, config.default_deadline_ms, config.max_deadline_ms);
    encodeGrpcMessagesForEveryClient(response);
    handler(request as http2.Http2ServerRequest, response as http2.Http2ServerResponse);
  };
  const http2_options = { settings: { maxConcurrentStreams: config.connection.max_concurrent_streams } };
  const http2_server =
    config.tls_cert_file && config.tls_key_file
      ? http2.createSecureServer(
          // Over TLS, ALPN picks HTTP/2 or HTTP/1.1 for us.
          {
            ...http2_options,
            allowHTTP1: true,
            handshakeTimeout: config.connection.header_timeout_ms,
            cert: fs.readFileSync(config.tls_cert_file),
            key: fs.readFileSync(config.tls_key_file),
          },
          listener,
        )
      : http2.createServer(http2_options, listener);
  const http1_server = http.createServer(listener);
  // Node runs this one itself: socket inactivity, checked on every read.
  http1_server.timeout = config.connection.idle_timeout_ms;
  http1_server.keepAliveTimeout = connections.keepAliveTimeoutMs();
  http1_server.on('timeout', (socket: Socket) => connections.quiet(socket));
  const sessions = new Set<http2.ServerHttp2Session>();
  http2_server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    connections.http2(session);
  });
  if (config.tls_cert_file) http2_server.on('secureConnection', (socket) => connections.secured(socket));
  const server = config.tls_cert_file ? http2_server : cleartextDemultiplexer(http2_server, http1_server, connections);
  server.maxConnections = config.connection.max_connections;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const scheme = config.tls_cert_file ? 'https' : 'http';
  logger.info({ host: config.host, port, tls: scheme === 'https', services: modules.map((m) => m.service.typeName) }, 'listening');

  let closing: Promise<void> | undefined;
  const shutdown = () =>
    (closing ??= (async () => {
      health.shutdown();
      logger.info({ calls_in_flight: admission.calls_in_flight, grace_ms: config.shutdown_grace_ms }, 'shutting down');
      const drained = await admission.drain(config.shutdown_grace_ms);
      if (!drained) logger.warn({ calls_in_flight: admission.calls_in_flight }, 'grace period over; cancelling calls in flight');
      shutdown_controller.abort();
      health.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // HTTP/1.1 keep-alive sockets close as soon as their last response is out.
      connections.closeHttp1WhenIdle();
      // GOAWAY first so clients stop opening streams, then cut what is left.
      for (const session of sessions) session.close();
      const hard_stop = setTimeout(() => {
        for (const session of sessions) session.destroy();
        connections.destroyAll();
      }, 1_000);
      await closed;
      clearTimeout(hard_stop);
    })());

  return { port, url: `${scheme}://${config.host}:${port}`, health, shutdown };
}

/**
 * Connect writes `grpc-message` with encodeURIComponent, which also encodes
 * printable characters such as ':' and ','. The gRPC spec percent-encodes only
 * bytes outside 0x20-0x7E and '%', and grpc-js decodes with decodeURI, so its
 * users saw "requested%3A 4". We re-encode to the spec's minimal form, which
 * every gRPC implementation decodes.
 */
function encodeGrpcMessagesForEveryClient(response: http2.Http2ServerResponse | http.ServerResponse): void {
  const reencode = (headers: Record<string, unknown> | undefined) => {
    const message = headers?.['grpc-message'];
    if (typeof message === 'string') headers!['grpc-message'] = minimalPercentEncoding(message);
  };
  const write_head = response.writeHead.bind(response) as (...args: unknown[]) => unknown;
  (response as { writeHead: unknown }).writeHead = (status: number, ...rest: unknown[]) => {
    reencode(rest.find((value) => value && typeof value === 'object') as Record<string, unknown> | undefined);
    return write_head(status, ...rest);
  };
  const add_trailers = response.addTrailers.bind(response) as (headers: Record<string, unknown>) => void;
  (response as { addTrailers: unknown }).addTrailers = (headers: Record<string, unknown>) => {
    reencode(headers);
    add_trailers(headers);
  };
}

function minimalPercentEncoding(encoded: string): string {
  let text: string;
  try {
    text = decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
  let result = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    result += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return result;
}

// Every HTTP/2 connection opens with this preface ("prior knowledge" h2c).
const HTTP2_PREFACE_START = Buffer.from('PRI * HTTP/2.0');

/**
 * One cleartext port for HTTP/2 and HTTP/1.1. Node's h2c server cannot fall
 * back to HTTP/1.1 without TLS, so we read the first bytes of each connection
 * and hand it to the right server. HTTP/2 sessions take the bytes already read
 * from the socket's buffer and keep the native socket handle (no copy layer).
 */
function cleartextDemultiplexer(http2_server: http2.Http2Server, http1_server: http.Server, connections: Connections): net.Server {
  return net.createServer({ noDelay: true }, (socket) => {
    connections.accepted(socket);
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      const is_http2 = first.subarray(0, HTTP2_PREFACE_START.length).equals(HTTP2_PREFACE_START.subarray(0, Math.min(first.length, HTTP2_PREFACE_START.length)));
      if (is_http2) {
        http2_server.emit('connection', socket);
      } else {
        connections.http1(socket);
        http1_server.emit('connection', socket);
        socket.resume();
      }
    });
    socket.on('error', () => socket.destroy());
  });
}
