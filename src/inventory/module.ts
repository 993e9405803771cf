/**
 * The inventory context as the server sees it: the service, its handlers
 * wired to the domain, and the typed details its errors carry.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ConnectRouter } from '@connectrpc/connect';
import { InsufficientStockError, type DomainError } from '../shared/errors.js';
import type { OutgoingDetail } from '../server/errors.js';
import type { ServiceDependencies, ServiceModule } from '../server/module.js';
import { InsufficientStockDetailSchema, ReservationExceededDetailSchema, ReservationExpiredDetailSchema } from '../../gen/stockroom/inventory/v1/error_details_pb.js';
import { InventoryService } from '../../gen/stockroom/inventory/v1/inventory_service_pb.js';
import { Catalog } from './catalog.js';
import { ReservationExceededError, ReservationExpiredError } from './errors.js';
import { HoldLifetimes } from './holds.js';
import { InventoryHandler } from './handler.js';
import { InventoryHealth } from './health.js';
import { LIMITS } from './limits.js';
import { healthSource, type HealthSource } from '../observability/health-gauges.js';
import { Ledger } from './ledger.js';
import { OrderFlow } from './orders.js';
import { StockChanges } from './stock-changes.js';

/** Every short product, or every exceeded line, with its numbers as int64. */
export function inventoryDetails(error: DomainError): OutgoingDetail[] {
  if (error instanceof InsufficientStockError) {
    const value = create(InsufficientStockDetailSchema, {
      shortages: error.shortages.map((shortage) => ({
        productId: shortage.key,
        itemId: shortage.id ?? '',
        requested: BigInt(shortage.requested),
        available: BigInt(shortage.available),
      })),
    });
    return [{ desc: InsufficientStockDetailSchema, value }];
  }
  if (error instanceof ReservationExceededError) {
    const value = create(ReservationExceededDetailSchema, {
      reference: error.reference,
      lines: error.lines.map((line) => ({ productId: line.product_id, requested: line.requested, held: line.held })),
    });
    return [{ desc: ReservationExceededDetailSchema, value }];
  }
  if (error instanceof ReservationExpiredError) {
    const value = create(ReservationExpiredDetailSchema, {
      reference: error.reference,
      lines: error.lines.map((line) => ({
        productId: line.product_id,
        requested: line.requested,
        held: line.held,
        expired: line.expired,
        expireTime: timestampFromDate(line.expire_time),
      })),
    });
    return [{ desc: ReservationExpiredDetailSchema, value }];
  }
  return [];
}

/**
 * CheckInventoryHealth's finding counts and Reconcile's items that disagree
 * (the first page of them at most), as the health gauges count them.
 */
export function inventoryHealthSource(health: InventoryHealth): HealthSource {
  const checks = ['on_hand_ledger_mismatches', 'reserved_hold_mismatches', 'on_hand_after_breaks', 'commit_ledger_mismatches'] as const;
  const only_differences = { product_id: '', only_differences: true };
  return healthSource(
    checks,
    (context) => health.checkHealth(context),
    async (context) => (await health.reconcile(context, only_differences, { size: LIMITS.page_size_max, token: '' })).items.length,
  );
}

export function inventoryModule(dependencies: ServiceDependencies): ServiceModule {
  const { runner, idempotency, holds, reserve_batch_max } = dependencies;
  const health = new InventoryHealth(runner);
  const handler = new InventoryHandler({
    catalog: new Catalog(runner, idempotency),
    orders: new OrderFlow(runner, idempotency, reserve_batch_max),
    stock: new StockChanges(runner, idempotency),
    ledger: new Ledger(runner),
    health,
    holds: new HoldLifetimes(runner, idempotency),
    hold_policy: holds,
  });
  return {
    service: InventoryService,
    register(router: ConnectRouter) {
      router.service(InventoryService, handler);
    },
    details: inventoryDetails,
    health: inventoryHealthSource(health),
  };
}
