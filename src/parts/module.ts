/**
 * The parts context as the server sees it: PartsService, its handlers built
 * from the domain services, and its typed error details.
 */
import { create } from '@bufbuild/protobuf';
import type { ConnectRouter } from '@connectrpc/connect';
import {
  HeldLineSchema,
  InsufficientStockDetailSchema,
  ReservationExceededDetailSchema,
  ReservationExpiredDetailSchema,
  ReturnExceedsIssuedDetailSchema,
} from '../../gen/stockroom/parts/v1/error_details_pb.js';
import { PartsService } from '../../gen/stockroom/parts/v1/parts_service_pb.js';
import { healthSource, type HealthSource } from '../observability/health-gauges.js';
import type { DetailMapper, OutgoingDetail } from '../server/errors.js';
import type { ServiceDependencies, ServiceModule } from '../server/module.js';
import { Catalog } from './catalog.js';
import { timestampFromMicros } from '../shared/time.js';
import { PartShortageError, ReturnExceedsIssuedError, WorkOrderReservationRefusedError } from './errors.js';
import { partsHandler } from './handler.js';
import { InventoryHealth } from './health.js';
import { LIMITS } from './limits.js';
import { QTY_SCALE } from './model.js';
import { WorkOrderHolds } from './work-order-holds.js';
import { StockQueries } from './queries.js';
import { ReorderPoints } from './reorder-points.js';
import { StockOperations } from './stock.js';

/**
 * InsufficientStockDetail, ReturnExceedsIssuedDetail and the two reservation
 * details carry the numbers of the ErrorInfo as typed fields.
 */
export const partsErrorDetails: DetailMapper = (error) => {
  const details: OutgoingDetail[] = [];
  if (error instanceof PartShortageError) {
    const [shortage] = error.shortages;
    details.push({
      desc: InsufficientStockDetailSchema,
      value: create(InsufficientStockDetailSchema, {
        partNumber: error.part_number,
        partId: error.part_id,
        locationId: error.location_id,
        requested: shortage.requested,
        available: shortage.available,
        batchId: error.batch_id ?? '',
        qtyOnHand: error.stock === undefined ? '' : error.stock.on_hand.toFixed(QTY_SCALE),
        qtyReserved: error.stock === undefined ? '' : error.stock.reserved.toFixed(QTY_SCALE),
      }),
    });
  }
  if (error instanceof ReturnExceedsIssuedError) {
    details.push({
      desc: ReturnExceedsIssuedDetailSchema,
      value: create(ReturnExceedsIssuedDetailSchema, {
        workOrderId: error.work_order_id,
        partId: error.part_id,
        partNumber: error.part_number,
        locationId: error.location_id,
        requested: error.requested,
        netIssued: error.net_issued,
      }),
    });
  }
  if (error instanceof WorkOrderReservationRefusedError) details.push(reservationRefusedDetail(error));
  return details;
};

function reservationRefusedDetail(error: WorkOrderReservationRefusedError): OutgoingDetail {
  const lines = error.holds.map((hold) =>
    create(HeldLineSchema, {
      partId: hold.part_id,
      partNumber: hold.part_number,
      locationId: hold.location_id,
      requested: error.requested === null ? '' : error.requested.toFixed(QTY_SCALE),
      held: hold.qty_held.toFixed(QTY_SCALE),
      expired: hold.qty_expired.toFixed(QTY_SCALE),
      expireTime: hold.expires_at === null ? undefined : timestampFromMicros(hold.expires_at),
    }),
  );
  const value = { workOrderId: error.work_order_id, lines };
  return error.reason === 'RESERVATION_EXPIRED'
    ? { desc: ReservationExpiredDetailSchema, value: create(ReservationExpiredDetailSchema, value) }
    : { desc: ReservationExceededDetailSchema, value: create(ReservationExceededDetailSchema, value) };
}

/**
 * CheckInventoryHealth's finding counts and Reconcile's places that disagree
 * (the first page of them at most), as the health gauges count them.
 */
export function partsHealthSource(health: InventoryHealth): HealthSource {
  const checks = ['negative_quantities', 'orphaned_movements', 'fifo_violations', 'balance_batch_mismatches', 'balance_ledger_mismatches', 'batch_ledger_mismatches'] as const;
  const only_differences = { part_id: '', location_id: '', only_differences: true };
  return healthSource(
    checks,
    (context) => health.checkHealth(context, LIMITS.fifo_check_default),
    async (context) => (await health.reconcile(context, only_differences, { page_size: LIMITS.page_size_max, page_token: '' })).items.length,
  );
}

export function partsModule(dependencies: ServiceDependencies): ServiceModule {
  const { runner, idempotency, holds } = dependencies;
  const health = new InventoryHealth(runner);
  const handler = partsHandler({
    catalog: new Catalog(runner, idempotency),
    stock: new StockOperations(runner, idempotency),
    queries: new StockQueries(runner),
    health,
    holds: new WorkOrderHolds(runner, idempotency),
    hold_policy: holds,
    reorder_points: new ReorderPoints(runner),
  });
  return {
    service: PartsService,
    register(router: ConnectRouter) {
      router.service(PartsService, handler);
    },
    details: partsErrorDetails,
    health: partsHealthSource(health),
  };
}
