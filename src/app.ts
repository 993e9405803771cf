/**
 * The composition root: configuration → logger → database → services →
 * server. main.ts runs it for the process; tests run it in-process.
 */
import type { Logger } from 'pino';
import { DatabaseAvailability } from './db/availability.js';
import { openDatabase, type Database } from './db/database.js';
import { TransactionRunner } from './db/transaction.js';
import { Observability } from './observability/observability.js';
import { TokenVerifier } from './server/auth.js';
import type { Config } from './server/config.js';
import type { ServiceModule } from './server/module.js';
import { startServer, type RunningServer } from './server/server.js';
import { stockroomServices } from './server/services.js';
import { startHoldSweeper } from './shared/hold-sweeper.js';
import { NatsRelay } from './events/relay.js';
import { purgeEvents } from './events/retention.js';
import { IdempotencyStore, purgeExpiredKeys } from './shared/idempotency.js';
import { INVENTORY_HOLD_EXPIRY } from './inventory/holds.js';
import { PARTS_HOLD_EXPIRY } from './parts/work-order-holds.js';
import { configurePageTokens } from './shared/page-token.js';

export interface Stockroom {
  readonly server: RunningServer;
  readonly database: Database;
  /** Drains calls, closes the listener, the pool and the embedded database. */
  stop(): Promise<void>;
}

const IDEMPOTENCY_PURGE_INTERVAL_MS = 15 * 60_000;

export async function startStockroom(config: Config, logger: Logger): Promise<Stockroom> {
  if (config.auth.using_development_secret) {
    logger.warn(
      'NO JWT KEY CONFIGURED: using the public DEVELOPMENT secret. Anyone can mint tokens. Set STOCKROOM_JWT_SECRET or STOCKROOM_JWT_JWKS for any real use.',
    );
  }
  const verifier = new TokenVerifier(config.auth);
  const page_token_secret = config.page_token_secret ?? config.auth.hs256_secret;
  if (page_token_secret !== undefined) configurePageTokens(page_token_secret);
  else logger.warn('STOCKROOM_PAGE_TOKEN_SECRET is not set: page tokens and movement positions use a key of this process and are refused by other replicas and after a restart');
  const observability = new Observability(config, logger);
  const database = await openDatabase(config, logger);
  observability.watchPool(await database.pool(), config.database_pool_max);
  const availability = new DatabaseAvailability(logger);
  const runner = new TransactionRunner(database.orm, {
    lock_timeout_ms: config.lock_timeout_ms,
    statement_timeout_ms: config.statement_timeout_ms,
    retry_max: config.transaction_retry_max,
  }, (backend_pid) => database.cancelBackend(backend_pid), observability.transactionObserver(), availability);
  const idempotency = new IdempotencyStore(config.idempotency_retention_hours);
  let server: RunningServer;
  let modules: ServiceModule[];
  try {
    modules = stockroomServices({ runner, idempotency, logger, holds: config.holds, events: config.events, reserve_batch_max: config.reserve_batch_max });
    const probe = async () => {
      const answered = await database.ping();
      if (answered) availability.succeeded();
      else availability.failed(new Error('the health probe got no answer'));
      return answered;
    };
    server = await startServer({ config, logger, verifier, modules, probe, observability });
    // The first failed call turns health NOT_SERVING at once, not after the probe's cache.
    availability.onChange((available) => server.health.databaseChanged(available));
  } catch (error) {
    await database.close();
    await observability.stop();
    throw error;
  }
  observability.startHealthGauges(modules.flatMap((module) => (module.health ? [{ grpc_service: module.service.typeName, source: module.health }] : [])));
  const purge_timer = setInterval(() => {
    void purgeIdempotencyKeys(runner, logger);
    void purgeOldEvents(runner, config, logger);
  }, IDEMPOTENCY_PURGE_INTERVAL_MS);
  purge_timer.unref();
  const hold_sweeper = startHoldSweeper(
    runner,
    [INVENTORY_HOLD_EXPIRY, PARTS_HOLD_EXPIRY],
    { interval_ms: config.holds.sweep_interval_ms, batch_rows: config.holds.sweep_batch_rows, batches_per_tenant_max: 20 },
    logger,
  );
  const relay = config.events.nats && new NatsRelay(runner, config.events.nats, logger);
  relay?.start();
  return {
    server,
    database,
    async stop() {
      clearInterval(purge_timer);
      await hold_sweeper.stop();
      await relay?.stop();
      for (const module of modules) module.close?.();
      await server.shutdown();
      await observability.stop();
      await database.close();
    },
  };
}

async function purgeOldEvents(runner: TransactionRunner, config: Config, logger: Logger): Promise<void> {
  try {
    const result = await purgeEvents(runner, { retention_hours: config.events.retention_hours, relay_name: config.events.nats?.relay_name });
    if (result.purged > 0) logger.info(result, 'events past their retention purged');
    if (!result.complete) logger.warn(result, 'events purge stopped at its batch limit; the next sweep continues');
  } catch (error) {
    logger.warn({ err: error }, 'events purge failed; will retry');
  }
}

async function purgeIdempotencyKeys(runner: TransactionRunner, logger: Logger): Promise<void> {
  try {
    const result = await purgeExpiredKeys(runner);
    if (result.purged > 0) logger.info(result, 'expired idempotency keys purged');
    if (!result.complete) logger.warn(result, 'idempotency purge stopped at its batch limit; the next sweep continues');
  } catch (error) {
    logger.warn({ err: error }, 'idempotency key purge failed; will retry');
  }
}
