/**
 * The connection layer's own bookkeeping: which connections are open, which
 * have a call in progress, and the timers that close the ones that do
 * nothing.
 *
 * Node's HTTP/1.1 header and request timeouts run from a check that only
 * starts in `server.listen()`, and our HTTP/1.1 server never listens (the
 * cleartext demultiplexer hands it sockets), so they never ran: a socket
 * that sent nothing, half a header, or only the HTTP/2 preface stayed open
 * for ever. Every such case is closed here instead:
 *  - before the first byte (protocol unknown): within header_timeout_ms or
 *    idle_timeout_ms, whichever is shorter;
 *  - HTTP/1.1: the first request's headers must be complete within
 *    header_timeout_ms of the connection, a later one's within the
 *    keep-alive timeout plus header_timeout_ms of the previous response; a
 *    socket with no call in progress and no bytes for idle_timeout_ms (or
 *    the keep-alive timeout, min(5 s, idle) + 1 s, between requests) is closed;
 *  - HTTP/2: a session that opens no stream within header_timeout_ms, or has
 *    no stream and no frames for idle_timeout_ms, gets GOAWAY and is closed.
 * A connection with a call in progress is never closed for being quiet: the
 * call's deadline bounds it.
 */
import type http from 'node:http';
import type http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { ConnectionLimits } from './config.js';

/** One open connection: the raw socket, and calls in progress on it. */
class Connection {
  calls_in_flight = 0;
  protocol: 'unknown' | 'http1' | 'http2' = 'unknown';
  /** Closes a socket that says nothing before its protocol is known. */
  silent_listener: (() => void) | undefined;
  /** Set for HTTP/1.1 while the connection waits for a request's headers. */
  header_timer: NodeJS.Timeout | undefined;
  /** Called when the connection has no call in progress (shutdown closes it then). */
  on_idle: (() => void) | undefined;

  constructor(readonly socket: Socket) {}
}

// Node's http server closes a keep-alive socket this long after the timeout it advertises.
const NODE_KEEP_ALIVE_BUFFER_MS = 1_000;

// Stored on the raw socket; HTTP/2's socket proxy forwards property reads, so
// a request of either protocol finds its connection through `request.socket`.
const CONNECTION = Symbol('stockroom.connection');

type AnyRequest = http2.Http2ServerRequest | http.IncomingMessage;
type AnyResponse = http2.Http2ServerResponse | http.ServerResponse;

export class Connections {
  private readonly open = new Set<Connection>();
  private closing = false;

  constructor(private readonly limits: ConnectionLimits) {}

  get size(): number {
    return this.open.size;
  }

  /** A new socket, protocol not known yet: it must say something soon. */
  accepted(socket: Socket): void {
    const connection = new Connection(socket);
    (socket as unknown as Record<symbol, Connection>)[CONNECTION] = connection;
    this.open.add(connection);
    socket.once('close', () => {
      clearTimeout(connection.header_timer);
      this.open.delete(connection);
    });
    connection.silent_listener = () => socket.destroy();
    socket.once('timeout', connection.silent_listener);
    socket.setTimeout(Math.min(this.limits.header_timeout_ms, this.limits.idle_timeout_ms));
  }

  /** The socket was handed to the HTTP/1.1 server, which runs the idle timeout (see quiet()). */
  http1(socket: Socket): void {
    const connection = connectionOf(socket);
    if (connection === undefined) return;
    this.protocolKnown(connection, 'http1');
    this.awaitHeaders(connection);
  }

  /** A TLS handshake finished; ALPN has chosen the protocol (the session, for h2, already exists). */
  secured(socket: Socket & { alpnProtocol?: string | false }): void {
    this.accepted(socket);
    const connection = connectionOf(socket)!;
    if (socket.alpnProtocol === 'h2') this.protocolKnown(connection, 'http2');
    else this.http1(socket);
  }

  /** An HTTP/2 session began on a socket we accepted (or on a TLS socket). */
  http2(session: http2.ServerHttp2Session): void {
    const connection = connectionOf(session.socket);
    if (connection !== undefined) this.protocolKnown(connection, 'http2');
    const close = () => {
      if (!session.closed && !session.destroyed) session.close();
    };
    const first_stream = setTimeout(close, this.limits.header_timeout_ms);
    first_stream.unref();
    session.once('stream', () => clearTimeout(first_stream));
    session.once('close', () => clearTimeout(first_stream));
    // The session's timer restarts on every frame; streams it counts as busy.
    session.setTimeout(this.limits.idle_timeout_ms, () => {
      if ((connectionOf(session.socket)?.calls_in_flight ?? 0) === 0) close();
    });
  }

  /**
   * A request arrived with its headers: the connection is busy until the
   * response is done. O(1): one counter per connection.
   */
  callStarted(request: AnyRequest, response: AnyResponse): void {
    const connection = connectionOf(request.socket);
    if (connection === undefined) return;
    connection.calls_in_flight++;
    clearTimeout(connection.header_timer);
    connection.header_timer = undefined;
    let done = false;
    const finished = () => {
      if (done) return;
      done = true;
      connection.calls_in_flight--;
      if (connection.calls_in_flight > 0) return;
      connection.on_idle?.();
      // A keep-alive socket first waits out the keep-alive timeout (Node
      // closes it then); a next request that has begun must finish its
      // headers within header_timeout_ms after that.
      if (!this.closing && 'httpVersionMajor' in request && request.httpVersionMajor === 1) this.awaitHeaders(connection, this.keepAliveTimeoutMs() + NODE_KEEP_ALIVE_BUFFER_MS);
    };
    response.once('close', finished);
    response.once('finish', finished);
  }

  /** The HTTP/1.1 server's socket went quiet: close it unless a call is in progress. */
  quiet(socket: Socket): void {
    const connection = connectionOf(socket);
    if (connection === undefined || connection.calls_in_flight === 0) socket.destroy();
  }

  /**
   * Shutdown: HTTP/1.1 connections close as soon as they have no call in
   * progress (idle keep-alive sockets at once); HTTP/2 sessions are closed by
   * the server with GOAWAY.
   */
  closeHttp1WhenIdle(): void {
    this.closing = true;
    for (const connection of this.open) {
      if (connection.protocol === 'http2') continue;
      const end = () => connection.socket.end(() => connection.socket.destroy());
      if (connection.calls_in_flight === 0) end();
      else connection.on_idle = end;
    }
  }

  destroyAll(): void {
    for (const connection of this.open) connection.socket.destroy();
  }

  private protocolKnown(connection: Connection, protocol: 'http1' | 'http2'): void {
    connection.protocol = protocol;
    if (connection.silent_listener) connection.socket.removeListener('timeout', connection.silent_listener);
    connection.silent_listener = undefined;
    // HTTP/2 reads the socket natively, so its timer would never restart:
    // the session's own timer takes over (HTTP/1.1's server sets its own).
    connection.socket.setTimeout(0);
  }

  /**
   * How long an HTTP/1.1 connection may wait for its next request. Node
   * advertises it in `Keep-Alive: timeout=` and closes the socket 1 s after it
   * (so that a client reusing the socket at the last moment is not reset).
   */
  keepAliveTimeoutMs(): number {
    return Math.min(5_000, this.limits.idle_timeout_ms);
  }

  private awaitHeaders(connection: Connection, extra_ms = 0): void {
    clearTimeout(connection.header_timer);
    connection.header_timer = setTimeout(() => {
      if (connection.calls_in_flight === 0) connection.socket.destroy();
    }, this.limits.header_timeout_ms + extra_ms);
    connection.header_timer.unref();
  }
}

function connectionOf(socket: unknown): Connection | undefined {
  return (socket as Record<symbol, Connection | undefined> | null)?.[CONNECTION];
}
