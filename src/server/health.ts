/**
 * The gRPC health protocol (grpc.health.v1.Health) for connect-node.
 *
 * Load balancers, Kubernetes gRPC probes and grpc-health-probe ask this
 * service whether to send us traffic. The answer for the whole server (the
 * empty service name "") and for each registered service follows the
 * database: a Stockroom that cannot reach PostgreSQL cannot keep stock
 * truthful, so it reports NOT_SERVING and traffic goes elsewhere. Probing the
 * database on every Check would let an eager load balancer hammer it, so a
 * probe result is reused for a short while and concurrent Checks share one
 * probe in flight; but a call that finds the database gone turns the status
 * NOT_SERVING at once (databaseChanged), and while it is gone the probe runs
 * every probe_retry_ms so that SERVING comes back as soon as it answers.
 *
 * Protocol: https://github.com/grpc/grpc/blob/master/doc/health-checking.md
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus,
  HealthListResponseSchema,
} from '../../gen/grpc/health/v1/health_pb.js';
import { errorInfo } from './errors.js';
import { quoteInput } from '../shared/errors.js';

/** The protocol's status values: UNKNOWN, SERVING, NOT_SERVING, SERVICE_UNKNOWN. */
export const ServingStatus = HealthCheckResponse_ServingStatus;
export type ServingStatus = HealthCheckResponse_ServingStatus;

/** The name the protocol reserves for the health of the whole server. */
export const OVERALL = '';

export interface HealthStateOptions {
  /** Answers true while the server can do its work (the database ping). Rejecting counts as false. */
  readonly probe: () => Promise<boolean>;
  /** How often the background probe runs, so that Watch of "" notices a change without being asked. */
  readonly probe_interval_ms: number;
  /** How long a probe result answers Check before a new probe runs. Default 1000. */
  readonly probe_result_max_age_ms?: number;
  /** A probe that has not answered by then counts as false. Default 2000. */
  readonly probe_timeout_ms?: number;
  /** While the last probe failed, how soon the next one runs. Default 250. */
  readonly probe_retry_ms?: number;
}

interface ProbeResult {
  readonly healthy: boolean;
  readonly at: number;
}

/**
 * The serving status of the server and of each named service.
 *
 * The whole server ("") is SERVING only while it has not been set otherwise,
 * the latest probe answered true, and shutdown() has not run. A named service
 * is SERVING while it is set serving (setServing) and the whole server is; a
 * name never set is unknown.
 */
export class HealthState {
  private readonly probe: () => Promise<boolean>;
  private readonly probe_result_max_age_ms: number;
  private readonly probe_timeout_ms: number;
  private readonly probe_retry_ms: number;
  private retry_timer: NodeJS.Timeout | undefined;
  private readonly services = new Map<string, boolean>();
  private overall_serving = true;
  private last_probe: ProbeResult | undefined;
  private probe_in_flight: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private shut_down = false;
  private closed = false;
  /** Called on every change that may alter a status; each Watch holds one. */
  private readonly listeners = new Set<() => void>();

  constructor(options: HealthStateOptions) {
    if (!(options.probe_interval_ms > 0)) throw new RangeError('probe_interval_ms must be positive');
    this.probe = options.probe;
    this.probe_result_max_age_ms = options.probe_result_max_age_ms ?? 1000;
    this.probe_timeout_ms = options.probe_timeout_ms ?? 2000;
    this.probe_retry_ms = options.probe_retry_ms ?? 250;
    this.timer = setInterval(() => void this.runProbe(), options.probe_interval_ms);
    this.timer.unref();
  }

  /** True once shutdown() has run. */
  get isShutdown(): boolean {
    return this.shut_down;
  }

  /** How many Watch streams are open; a cancelled call must not leave one behind. */
  get openWatches(): number {
    return this.listeners.size;
  }

  /**
   * Marks a service (or, with "", the whole server) as serving or not.
   * Ignored after shutdown(): a server going away does not come back.
   */
  setServing(service: string, serving: boolean): void {
    if (this.shut_down) return;
    if (service === OVERALL) {
      if (this.overall_serving === serving) return;
      this.overall_serving = serving;
    } else {
      if (this.services.get(service) === serving) return;
      this.services.set(service, serving);
    }
    this.notify();
  }

  /**
   * What the calls learned about the database, ahead of the probe: a lost
   * connection counts as a failed probe now (Watch streams hear it at once);
   * a recovery counts as a good one.
   */
  databaseChanged(available: boolean): void {
    if (this.shut_down) return;
    const previous = this.last_probe;
    this.last_probe = { healthy: available, at: Date.now() };
    if (!available) this.retryProbeSoon();
    if (previous?.healthy !== available) this.notify();
  }

  /**
   * Everything NOT_SERVING, permanently: call at the start of a graceful
   * shutdown so load balancers drain us while in-flight calls finish. Open
   * Watch streams receive NOT_SERVING and end. Stops the background probe.
   */
  shutdown(): void {
    if (this.shut_down) return;
    this.shut_down = true;
    this.stopTimer();
    this.notify();
  }

  /** Stops the background probe and ends open Watch streams; for tests and process exit. */
  close(): void {
    this.closed = true;
    this.stopTimer();
    this.notify();
    this.listeners.clear();
  }

  /**
   * The current status of a service; SERVICE_UNKNOWN for a name never set.
   * A service set serving follows the whole server, which may run the probe
   * (at most one at a time, and only when the last result is older than
   * probe_result_max_age_ms).
   */
  async status(service: string): Promise<ServingStatus> {
    if (service !== OVERALL) {
      const serving = this.services.get(service);
      if (serving === undefined) return ServingStatus.SERVICE_UNKNOWN;
      if (!serving || this.shut_down) return ServingStatus.NOT_SERVING;
    }
    if (this.shut_down || !this.overall_serving) return ServingStatus.NOT_SERVING;
    const last = this.last_probe;
    const healthy =
      last !== undefined && Date.now() - last.at <= this.probe_result_max_age_ms ? last.healthy : await this.runProbe();
    // The state may have changed while the probe ran.
    if (this.shut_down || !this.overall_serving) return ServingStatus.NOT_SERVING;
    return healthy ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }

  /** Every known service with its status, "" included. */
  async list(): Promise<Map<string, ServingStatus>> {
    const statuses = new Map<string, ServingStatus>([[OVERALL, await this.status(OVERALL)]]);
    for (const service of this.services.keys()) statuses.set(service, await this.status(service));
    return statuses;
  }

  /**
   * The status of a service now, then each time it changes, until the signal
   * aborts, close() runs, or shutdown() runs (after yielding NOT_SERVING).
   * An unknown service yields SERVICE_UNKNOWN and keeps watching, as the
   * protocol asks, in case the service becomes known later.
   */
  async *watch(service: string, signal?: AbortSignal): AsyncGenerator<ServingStatus, void, undefined> {
    let changed = true;
    let wake: (() => void) | undefined;
    const listener = (): void => {
      changed = true;
      wake?.();
    };
    // Unsubscribe on abort itself, not only in `finally`: a transport may drop
    // a stream that is suspended at a yield without ever resuming or returning
    // the generator (connect's in-memory router transport does), and the
    // listener must not outlive the call.
    const stop = (): void => {
      this.listeners.delete(listener);
      signal?.removeEventListener('abort', stop);
      listener();
    };
    if (signal?.aborted) return;
    this.listeners.add(listener);
    signal?.addEventListener('abort', stop);
    try {
      let sent: ServingStatus | undefined;
      for (;;) {
        if (!changed) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
        changed = false;
        if (signal?.aborted || this.closed) return;
        const shut_down = this.shut_down;
        const current = shut_down ? ServingStatus.NOT_SERVING : await this.status(service);
        if (signal?.aborted || this.closed) return;
        if (current !== sent) {
          sent = current;
          yield current;
        }
        if (shut_down) return;
      }
    } finally {
      this.listeners.delete(listener);
      signal?.removeEventListener('abort', stop);
    }
  }

  /**
   * Runs the probe, or joins the one already running, and records the
   * result. A rejection or a probe slower than probe_timeout_ms counts as
   * false. Listeners hear about it when the answer differs from the last one.
   */
  private runProbe(): Promise<boolean> {
    if (this.shut_down) return Promise.resolve(false);
    if (this.probe_in_flight !== undefined) return this.probe_in_flight;
    const attempt = (async (): Promise<boolean> => {
      let timeout: NodeJS.Timeout | undefined;
      try {
        const timedOut = new Promise<boolean>((resolve) => {
          timeout = setTimeout(() => resolve(false), this.probe_timeout_ms);
          timeout.unref();
        });
        const answer = Promise.resolve()
          .then(() => this.probe())
          .then(
            (healthy) => healthy === true,
            () => false,
          );
        return await Promise.race([answer, timedOut]);
      } finally {
        clearTimeout(timeout);
      }
    })().then((healthy) => {
      const previous = this.last_probe;
      this.last_probe = { healthy, at: Date.now() };
      this.probe_in_flight = undefined;
      if (!healthy) this.retryProbeSoon();
      if (previous?.healthy !== healthy) this.notify();
      return healthy;
    });
    this.probe_in_flight = attempt;
    return attempt;
  }

  private retryProbeSoon(): void {
    if (this.retry_timer !== undefined || this.shut_down || this.closed) return;
    this.retry_timer = setTimeout(() => {
      this.retry_timer = undefined;
      void this.runProbe();
    }, this.probe_retry_ms);
    this.retry_timer.unref();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.retry_timer);
    this.retry_timer = undefined;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * Registers grpc.health.v1.Health on the router: Check, Watch and List.
 * Check of a service never set fails with NOT_FOUND, as the protocol says.
 */
export function registerHealth(router: ConnectRouter, state: HealthState, limits: { max_watches: number } = { max_watches: Number.POSITIVE_INFINITY }): void {
  router.service(Health, {
    async check(request) {
      const status = await state.status(request.service);
      if (status === ServingStatus.SERVICE_UNKNOWN) {
        throw new ConnectError(`unknown service: ${quoteInput(request.service)}`, Code.NotFound);
      }
      return create(HealthCheckResponseSchema, { status });
    },
    async *watch(request, context) {
      // Each Watch holds a stream and a listener for as long as the client likes.
      if (state.openWatches >= limits.max_watches) {
        throw new ConnectError(`${limits.max_watches} health watches are open, the limit; use Check or retry later`, Code.ResourceExhausted, undefined, [
          errorInfo('TOO_MANY_WATCHES', Health.typeName.replace(/\.Health$/, ''), { maxHealthWatches: String(limits.max_watches) }),
        ]);
      }
      for await (const status of state.watch(request.service, context.signal)) {
        yield create(HealthCheckResponseSchema, { status });
      }
    },
    async list() {
      const statuses: Record<string, { status: ServingStatus }> = {};
      for (const [service, status] of await state.list()) statuses[service] = { status };
      return create(HealthListResponseSchema, { statuses });
    },
  });
}
