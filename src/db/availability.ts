/**
 * Whether the database is reachable, as the calls and the health probe see
 * it (which errors count is decided in transaction.ts: isConnectionFailure).
 *
 * A lost or refused connection is not a bug: clients get UNAVAILABLE
 * (DATABASE_UNAVAILABLE), which gRPC retry policies retry, health turns
 * NOT_SERVING on the first failure, and the log says so once when the outage
 * starts and once when it ends, instead of a stack trace per call.
 */
import type { Logger } from 'pino';
import type { AvailabilityReport } from './transaction.js';

export class DatabaseAvailability implements AvailabilityReport {
  private down_since: number | undefined;
  private readonly listeners = new Set<(available: boolean) => void>();

  constructor(private readonly logger: Logger) {}

  get available(): boolean {
    return this.down_since === undefined;
  }

  /** Hears every change, the first failure of an outage and its end. */
  onChange(listener: (available: boolean) => void): void {
    this.listeners.add(listener);
  }

  /** A connection failed. Only the first failure of an outage is logged. */
  failed(error: unknown): void {
    if (this.down_since !== undefined) return;
    this.down_since = Date.now();
    const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
    this.logger.warn({ code, error: typeof message === 'string' ? message : String(error) }, 'database unavailable: calls fail with UNAVAILABLE and health is NOT_SERVING until it answers again');
    for (const listener of this.listeners) listener(false);
  }

  /** The database answered. O(1) while nothing was wrong: every successful call reports here. */
  succeeded(): void {
    if (this.down_since === undefined) return;
    const outage_ms = Date.now() - this.down_since;
    this.down_since = undefined;
    this.logger.info({ outage_ms }, 'database available again');
    for (const listener of this.listeners) listener(true);
  }
}
