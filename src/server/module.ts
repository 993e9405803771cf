/**
 * How a bounded context plugs into the server: its service descriptor, a
 * function that registers its handlers, and its typed error details.
 */
import type { DescService } from '@bufbuild/protobuf';
import type { ConnectRouter } from '@connectrpc/connect';
import type { Logger } from 'pino';
import type { TransactionRunner } from '../db/transaction.js';
import type { HealthSource } from '../observability/health-gauges.js';
import type { IdempotencyStore } from '../shared/idempotency.js';
import type { EventsConfig, HoldConfig } from './config.js';
import type { DetailMapper } from './errors.js';

/** What a context's handlers and domain services are built from. */
export interface ServiceDependencies {
  readonly runner: TransactionRunner;
  readonly idempotency: IdempotencyStore;
  readonly logger: Logger;
  /** Lifetimes of holds: the default and the maximum a request may ask for. */
  readonly holds: Pick<HoldConfig, 'ttl_default_ms' | 'ttl_max_ms'>;
  /** The event stream's limits (WatchEvents). */
  readonly events: EventsConfig;
  /** Most single-product Reserves of one item coalesced into one transaction; 1: none (STOCKROOM_RESERVE_BATCH_MAX). */
  readonly reserve_batch_max: number;
}

export interface ServiceModule {
  readonly service: DescService;
  register(router: ConnectRouter): void;
  readonly details?: DetailMapper;
  /** The service's health check and reconcile, counted into the health gauges. */
  readonly health?: HealthSource;
  /** Ends what the module keeps running (open event streams) before the server drains. */
  close?(): void;
}
