/**
 * PartsService over Connect: each method checks and converts its request
 * (naming bad fields), calls the domain with the caller's context, and
 * converts the result. No SQL and no stock rules here.
 */
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import type { FieldMask } from '@bufbuild/protobuf/wkt';
import { PartsService } from '../../gen/stockroom/parts/v1/parts_service_pb.js';
import type { Location, Part } from '../../gen/stockroom/parts/v1/resources_pb.js';
import { callContext } from '../server/context.js';
import { COUNTED_QUANTITY, PART_QUANTITY, QUANTITY_DELTA, UNIT_COST } from '../shared/decimal.js';
import type { Catalog } from './catalog.js';
import {
  batchMessage,
  lineMessage,
  locationMessage,
  movementMessage,
  movementTypeFromProto,
  partMessage,
  qty,
  stockResultFields,
  total,
  workOrderHoldMessage,
} from './convert.js';
import type { InventoryHealth, HealthFinding } from './health.js';
import { checked, pageRequest, type FieldCheck, type RequestCheck } from './input.js';
import { LIMITS } from './limits.js';
import type { LocationFields, MovementType, PartFields } from './model.js';
import type { StockQueries } from './queries.js';
import type { ReorderPoints } from './reorder-points.js';
import type { StockOperations } from './stock.js';
import type { WorkOrderHolds } from './work-order-holds.js';
import { holdLifetime, type HoldPolicy } from '../shared/hold-lifetime.js';
import { timestampFromMicros } from '../shared/time.js';
import { sealPosition } from '../db/position.js';

export interface PartsDomain {
  readonly catalog: Catalog;
  readonly stock: StockOperations;
  readonly queries: StockQueries;
  readonly health: InventoryHealth;
  readonly holds: WorkOrderHolds;
  readonly hold_policy: HoldPolicy;
  readonly reorder_points: ReorderPoints;
}

const PART_FIELDS = ['part_number', 'name', 'description', 'make', 'category', 'component', 'last_price'] as const;
const LOCATION_FIELDS = ['site', 'name', 'description'] as const;

function partFields(check: FieldCheck, part: Part | undefined, prefix: string): PartFields {
  const source = part ?? ({ partNumber: '', name: '', description: '', make: '', category: '', component: '', lastPrice: '' } as Part);
  return {
    part_number: check.text(`${prefix}.part_number`, source.partNumber, { min: 1, max: LIMITS.part_number_length_max, trimmed: true }),
    name: check.text(`${prefix}.name`, source.name, { min: 1, max: LIMITS.part_name_length_max, trimmed: true }),
    description: check.text(`${prefix}.description`, source.description, { min: 0, max: LIMITS.description_length_max }),
    make: check.text(`${prefix}.make`, source.make, { min: 0, max: LIMITS.attribute_length_max, trimmed: true }),
    category: check.text(`${prefix}.category`, source.category, { min: 0, max: LIMITS.attribute_length_max, trimmed: true }),
    component: check.text(`${prefix}.component`, source.component, { min: 0, max: LIMITS.attribute_length_max, trimmed: true }),
    last_price: check.optionalDecimal(`${prefix}.last_price`, source.lastPrice, UNIT_COST),
  };
}

function locationFields(check: FieldCheck, location: Location | undefined, prefix: string): LocationFields {
  const source = location ?? ({ site: '', name: '', description: '' } as Location);
  return {
    site: check.text(`${prefix}.site`, source.site, { min: 1, max: LIMITS.site_length_max, trimmed: true }),
    name: check.text(`${prefix}.name`, source.name, { min: 1, max: LIMITS.location_name_length_max, trimmed: true }),
    description: check.text(`${prefix}.description`, source.description, { min: 0, max: LIMITS.description_length_max }),
  };
}

/** The mask's paths, each one of `allowed`; "*" means all. */
function maskPaths<Name extends string>(check: RequestCheck, mask: FieldMask | undefined, allowed: readonly Name[]): Name[] {
  return check.maskPaths('update_mask', mask?.paths ?? [], allowed);
}

function workOrderId(check: RequestCheck, value: string): string {
  return check.text('work_order_id', value, { min: 1, max: LIMITS.work_order_id_length_max, trimmed: true });
}

/** Only the masked fields, each checked with the create rules. */
function pick<T extends object, Name extends keyof T & string>(all: T, names: readonly Name[]): Partial<T> {
  return Object.fromEntries(names.map((name) => [name, all[name]])) as unknown as Partial<T>;
}

function findingMessage(found: HealthFinding) {
  return {
    count: found.count,
    examples: found.examples.map((example) => ({
      partId: example.part_id ?? '',
      locationId: example.location_id ?? '',
      batchId: example.batch_id ?? '',
      movementId: example.movement_id ?? '',
      workOrderId: example.work_order_id ?? '',
      detail: example.detail,
    })),
  };
}

export function partsHandler(domain: PartsDomain): ServiceImpl<typeof PartsService> {
  const { catalog, stock, queries, health, holds, reorder_points } = domain;
  const ctx = (context: HandlerContext) => callContext(context);
  return {
    async createPart(request, context) {
      const { fields, key } = checked((check) => ({
        fields: partFields(check, request.part, 'part'),
        key: check.idempotencyKey('idempotency_key', request.idempotencyKey),
      }));
      return { part: partMessage(await catalog.createPart(ctx(context), fields, key)) };
    },

    async getPart(request, context) {
      const part_id = checked((check) => check.id('part_id', request.partId));
      return { part: partMessage(await catalog.getPart(ctx(context), part_id)) };
    },

    async listParts(request, context) {
      const { filter, page } = checked((check) => ({
        filter: {
          category: check.text('category', request.category, { min: 0, max: LIMITS.attribute_length_max }),
          make: check.text('make', request.make, { min: 0, max: LIMITS.attribute_length_max }),
          text: check.text('text', request.text, { min: 0, max: LIMITS.text_filter_length_max }),
        },
        page: pageRequest(check, request.pageSize, request.pageToken),
      }));
      const listed = await catalog.listParts(ctx(context), filter, page);
      return { parts: listed.items.map(partMessage), nextPageToken: listed.next_page_token };
    },

    async updatePart(request, context) {
      const { part_id, changes, key } = checked((check) => {
        const names = maskPaths(check, request.updateMask, PART_FIELDS);
        const all = partFields(new MaskedCheck(check, names, 'part'), request.part, 'part');
        return {
          part_id: check.id('part.id', request.part?.id ?? ''),
          changes: pick(all, names),
          key: check.idempotencyKey('idempotency_key', request.idempotencyKey),
        };
      });
      return { part: partMessage(await catalog.updatePart(ctx(context), part_id, changes, key)) };
    },

    async deletePart(request, context) {
      const { part_id, key } = checked((check) => ({
        part_id: check.id('part_id', request.partId),
        key: check.idempotencyKey('idempotency_key', request.idempotencyKey),
      }));
      return await catalog.deletePart(ctx(context), part_id, key).then((deleted) => ({ partId: deleted.part_id }));
    },

    async createLocation(request, context) {
      const { fields, key } = checked((check) => ({
        fields: locationFields(check, request.location, 'location'),
        key: check.idempotencyKey('idempotency_key', request.idempotencyKey),
      }));
      return { location: locationMessage(await catalog.createLocation(ctx(context), fields, key)) };
    },

    async getLocation(request, context) {
      const location_id = checked((check) => check.id('location_id', request.locationId));
      return { location: locationMessage(await catalog.getLocation(ctx(context), location_id)) };
    },

    async listLocations(request, context) {
      const { site, page } = checked((check) => ({
        site: check.text('site', request.site, { min: 0, max: LIMITS.site_length_max }),
        page: pageRequest(check, request.pageSize, request.pageToken),
      }));
      const listed = await catalog.listLocations(ctx(context), site, page);
      return { locations: listed.items.map(locationMessage), nextPageToken: listed.next_page_token };
    },

    async updateLocation(request, context) {
      const { location_id, changes, key } = checked((check) => {
        const names = maskPaths(check, request.updateMask, LOCATION_FIELDS);
        const all = locationFields(new MaskedCheck(check, names, 'location'), request.location, 'location');
        return {
          location_id: check.id('location.id', request.location?.id ?? ''),
          changes: pick(all, names),
          key: check.idempotencyKey('idempotency_key', request.idempotencyKey),
        };
      });
      return { location: locationMessage(await catalog.updateLocation(ctx(context), location_id, changes, key)) };
    },

    async receiveParts(request, context) {
      const { input, key } = checked((check) => ({
        input: {
          part_id: check.id('part_id', request.partId),
          location_id: check.id('location_id', request.locationId),
          qty: check.decimal('qty', request.qty, PART_QUANTITY),
          unit_cost: check.decimal('unit_cost', request.unitCost, UNIT_COST),
          received_at: check.timestamp('received_date', request.receivedDate, Date.now() + LIMITS.received_date_future_skew_ms),
          receipt_id: check.text('receipt_id', request.receiptId, { min: 0, max: LIMITS.receipt_id_length_max, trimmed: true }),
        },
        key: check.idempotencyKey('idempotency_key', request.idempotencyKey),
      }));
      const result = await stock.receive(ctx(context), input, key);
      return { ...stockResultFields(result), batch: batchMessage(result.batch) };
    },

    async issueToWorkOrder(request, context) {
      const { input, key } = checked((check) => ({
        input: {
          work_order_id: workOrderId(check, request.workOrderId),
          part_id: check.id('part_id', request.partId),
          location_id: check.id('location_id', request.locationId),
          qty: check.decimal('qty', request.qty, PART_QUANTITY),
        },
        key: check.idempotencyKey('idempotency_key', request.idempotencyKey),
      }));
      return stockResultFields(await stock.issue(ctx(context), input, key));
    },

    async returnFromWorkOrder(request, context) {
      const { input, key } = checked((check) => ({
        input: {
          work_order_id: workOrderId(check, request.workOrderId),
          part_id: check.id('part_id', request.partId),
          location_id: check.id('location_id', request.locationId),
          qty: check.decimal('qty', request.qty, PART_QUANTITY),
        },
        key: check.idempotencyKey('idempotency_key', request.idempotencyKey),
      }));
      return stockResultFields(await stock.returnFromWorkOrder(ctx(context), input, key));
    },

    async transferBetweenLocations(request, context) {
      const { input, key } = checked((check) => ({
        input: {
          part_id: check.id('part_id', request.partId),
          from_location_id: check.id('from_location_id', request.fromLocationId),
          to_location_id: check.id('to_location_id', request.toLocationId),
          qty: check.decimal('qty', request.qty, PART_QUANTITY),
        },
        key: check.idempotencyKey('idempotency_key', request.idempotencyKey),
      }));
      const result = await stock.transfer(ctx(context), input, key);
      const { qtyOnHandAfter, ...fields } = stockResultFields(result);
      return { ...fields, fromQtyOnHandAfter: qtyOnHandAfter, toQtyOnHandAfter: qty(result.to_qty_on_hand_after) };
    },

    async adjustStock(request, context) {
      const { input, key } = checked((check) => {
        const qty_delta = check.decimal('qty_delta', request.qtyDelta, QUANTITY_DELTA);
        const unit_cost = check.optionalDecimal('unit_cost', request.unitCost, UNIT_COST);
        check.require(!(qty_delta.isNegative() && unit_cost !== null), 'unit_cost', 'must be empty for a negative qty_delta (units leave at their layers\' cost)');
        return {
          input: {
            part_id: check.id('part_id', request.partId),
            location_id: check.id('location_id', request.locationId),
            qty_delta,
            reason: check.text('reason', request.reason, { min: 1, max: LIMITS.reason_length_max }),
            unit_cost,
          },
          key: check.idempotencyKey('idempotency_key', request.idempotencyKey),
        };
      });
      return stockResultFields(await stock.adjust(ctx(context), input, key));
    },

    async recordCount(request, context) {
      const { input, key } = checked((check) => ({
        input: {
          part_id: check.id('part_id', request.partId),
          location_id: check.id('location_id', request.locationId),
          counted_qty: check.decimal('counted_qty', request.countedQty, COUNTED_QUANTITY),
          reason: check.text('reason', request.reason, { min: 0, max: LIMITS.reason_length_max }),
          unit_cost: check.optionalDecimal('unit_cost', request.unitCost, UNIT_COST),
        },
        key: check.idempotencyKey('idempotency_key', request.idempotencyKey),
      }));
      const result = await stock.count(ctx(context), input, key);
      return { ...stockResultFields(result), previousQty: qty(result.previous_qty), qtyDelta: qty(result.qty_delta) };
    },

    async returnToVendor(request, context) {
      const { input, key } = checked((check) => ({
        input: {
          part_id: check.id('part_id', request.partId),
          location_id: check.id('location_id', request.locationId),
          qty: check.decimal('qty', request.qty, PART_QUANTITY),
          batch_id: request.batchId === '' ? null : check.id('batch_id', request.batchId),
          receipt_id: check.text('receipt_id', request.receiptId, { min: 0, max: LIMITS.receipt_id_length_max, trimmed: true }),
          reason: check.text('reason', request.reason, { min: 0, max: LIMITS.reason_length_max }),
        },
        key: check.idempotencyKey('idempotency_key', request.idempotencyKey),
      }));
      return stockResultFields(await stock.returnToVendor(ctx(context), input, key));
    },

    async getOnHand(request, context) {
      const { filter, page } = checked((check) => ({
        filter: { part_id: check.optionalId('part_id', request.partId), location_id: check.optionalId('location_id', request.locationId) },
        page: pageRequest(check, request.pageSize, request.pageToken),
      }));
      const listed = await queries.onHand(ctx(context), filter, page);
      return {
        onHand: listed.items.map((row) => ({
          partId: row.part_id,
          partNumber: row.part_number,
          locationId: row.location_id,
          site: row.site,
          locationName: row.location_name,
          qtyOnHand: qty(row.qty_on_hand),
          value: total(row.value),
          openBatches: row.open_batches,
          qtyReserved: qty(row.qty_reserved),
          qtyAvailable: qty(row.qty_on_hand.minus(row.qty_reserved)),
        })),
        nextPageToken: listed.next_page_token,
      };
    },

    async listBatches(request, context) {
      const { filter, page } = checked((check) => ({
        filter: {
          part_id: check.optionalId('part_id', request.partId),
          location_id: check.optionalId('location_id', request.locationId),
          include_empty: request.includeEmpty,
        },
        page: pageRequest(check, request.pageSize, request.pageToken),
      }));
      const listed = await queries.batches(ctx(context), filter, page);
      return { batches: listed.items.map(batchMessage), nextPageToken: listed.next_page_token };
    },

    async listMovements(request, context) {
      const { filter, page, after } = checked((check) => {
        check.require(request.types.length <= LIMITS.movement_type_filters_max, 'types', `must list at most ${LIMITS.movement_type_filters_max} types`);
        const types = request.types.map((type, index) => {
          const known = movementTypeFromProto(type);
          check.require(known !== undefined, `types[${index}]`, 'must be a movement type other than MOVEMENT_TYPE_UNSPECIFIED');
          return known;
        });
        return {
          filter: {
            part_id: check.optionalId('part_id', request.partId),
            location_id: check.optionalId('location_id', request.locationId),
            work_order_id: check.text('work_order_id', request.workOrderId, { min: 0, max: LIMITS.work_order_id_length_max }),
            types: [...new Set(types.filter((type): type is MovementType => type !== undefined))].sort(),
            from_time: check.timestamp('from_time', request.fromTime),
            to_time: check.timestamp('to_time', request.toTime),
          },
          page: pageRequest(check, request.pageSize, request.pageToken),
          after: check.pollPosition(request),
        };
      });
      if (after !== undefined) {
        const polled = await queries.movementsAfter(ctx(context), filter, after, page.page_size);
        return { movements: polled.items.map(movementMessage), lastPosition: sealPosition(polled.last_position) };
      }
      const listed = await queries.movements(ctx(context), filter, page);
      return { movements: listed.items.map(movementMessage), nextPageToken: listed.next_page_token };
    },

    async getLocationsOnHand(request, context) {
      const { part_id, page } = checked((check) => ({
        part_id: check.id('part_id', request.partId),
        page: pageRequest(check, request.pageSize, request.pageToken),
      }));
      const listed = await queries.locationsOnHand(ctx(context), part_id, page);
      return {
        partId: listed.part_id,
        partNumber: listed.part_number,
        locations: listed.items.map((row) => ({
          locationId: row.location_id,
          site: row.site,
          name: row.name,
          qtyOnHand: qty(row.qty_on_hand),
          qtyReserved: qty(row.qty_reserved),
          qtyAvailable: qty(row.qty_on_hand.minus(row.qty_reserved)),
        })),
        nextPageToken: listed.next_page_token,
      };
    },

    async reservePartsForWorkOrder(request, context) {
      const { input, key } = checked((check) => {
        const lifetime = holdLifetime(request.ttl, domain.hold_policy);
        check.require(lifetime.problem === undefined, 'ttl', lifetime.problem ?? '');
        return {
          input: {
            work_order_id: workOrderId(check, request.workOrderId),
            part_id: check.id('part_id', request.partId),
            location_id: check.id('location_id', request.locationId),
            qty: check.decimal('qty', request.qty, PART_QUANTITY),
            ttl_ms: lifetime.ttl_ms,
          },
          key: check.idempotencyKey('idempotency_key', request.idempotencyKey),
        };
      });
      const result = await holds.reserve(ctx(context), input, key);
      return {
        hold: workOrderHoldMessage(result.hold),
        qtyOnHand: qty(result.qty_on_hand),
        qtyReserved: qty(result.qty_reserved),
        qtyAvailable: qty(result.qty_on_hand.minus(result.qty_reserved)),
        message: result.message,
      };
    },

    async releaseWorkOrderReservation(request, context) {
      const { input, key } = checked((check) => {
        check.require(request.locationId === '' || request.partId !== '', 'location_id', 'requires part_id');
        check.require(request.qty === '' || (request.partId !== '' && request.locationId !== ''), 'qty', 'requires part_id and location_id');
        return {
          input: {
            work_order_id: workOrderId(check, request.workOrderId),
            part_id: request.partId === '' ? null : check.id('part_id', request.partId),
            location_id: request.locationId === '' ? null : check.id('location_id', request.locationId),
            qty: request.qty === '' ? null : check.decimal('qty', request.qty, PART_QUANTITY),
          },
          key: check.idempotencyKey('idempotency_key', request.idempotencyKey),
        };
      });
      const result = await holds.release(ctx(context), input, key);
      return { holds: result.holds.map(workOrderHoldMessage), qtyReleased: qty(result.qty_released) };
    },

    async getWorkOrderParts(request, context) {
      const { work_order_id, page } = checked((check) => ({
        work_order_id: workOrderId(check, request.workOrderId),
        page: pageRequest(check, request.pageSize, request.pageToken),
      }));
      const found = await queries.workOrderParts(ctx(context), work_order_id, page);
      return {
        workOrderId: found.work_order_id,
        lines: found.items.map(lineMessage),
        totalPartsCost: total(found.total_parts_cost),
        parts: found.parts.map((part) => ({
          partId: part.part_id,
          partNumber: part.part_number,
          locationId: part.location_id,
          netQty: qty(part.net_qty),
          netCost: total(part.net_cost),
          qtyReserved: qty(part.qty_reserved),
          qtyIssued: qty(part.qty_issued),
          qtyReturned: qty(part.qty_returned),
          reserveExpireTime: part.reserve_expires_at === null ? undefined : timestampFromMicros(part.reserve_expires_at),
        })),
        lineCount: found.line_count,
        nextPageToken: found.next_page_token,
      };
    },

    async checkInventoryHealth(request, context) {
      const fifo_movements_max = checked((check) => {
        check.require(request.fifoMovementsMax >= 0, 'fifo_movements_max', 'must not be negative');
        return request.fifoMovementsMax <= 0 ? LIMITS.fifo_check_default : Math.min(request.fifoMovementsMax, LIMITS.fifo_check_max);
      });
      const report = await health.checkHealth(ctx(context), fifo_movements_max);
      return {
        healthy: report.healthy,
        negativeQuantities: findingMessage(report.negative_quantities),
        orphanedMovements: findingMessage(report.orphaned_movements),
        fifoViolations: findingMessage(report.fifo_violations),
        balanceBatchMismatches: findingMessage(report.balance_batch_mismatches),
        balanceLedgerMismatches: findingMessage(report.balance_ledger_mismatches),
        batchLedgerMismatches: findingMessage(report.batch_ledger_mismatches),
        fifoMovementsChecked: report.fifo_movements_checked,
        checkTime: timestampFromMicros(report.checked_at),
      };
    },

    async reconcile(request, context) {
      const { filter, page } = checked((check) => ({
        filter: {
          part_id: check.optionalId('part_id', request.partId),
          location_id: check.optionalId('location_id', request.locationId),
          only_differences: request.onlyDifferences,
        },
        page: pageRequest(check, request.pageSize, request.pageToken),
      }));
      const listed = await health.reconcile(ctx(context), filter, page);
      return {
        rows: listed.items.map((row) => ({
          partId: row.part_id,
          partNumber: row.part_number,
          locationId: row.location_id,
          site: row.site,
          locationName: row.location_name,
          ledgerQty: qty(row.ledger_qty),
          batchQty: qty(row.batch_qty),
          balanceQty: qty(row.balance_qty),
          batchMinusLedger: qty(row.batch_qty.minus(row.ledger_qty)),
          balanceMinusLedger: qty(row.balance_qty.minus(row.ledger_qty)),
          balanceMinusBatch: qty(row.balance_qty.minus(row.batch_qty)),
          batchDifferences: row.batch_differences.map((difference) => ({
            batchId: difference.batch_id,
            batchQty: qty(difference.batch_qty),
            ledgerQty: qty(difference.ledger_qty),
          })),
          consistent: row.consistent,
        })),
        inconsistentRows: listed.items.filter((row) => !row.consistent).length,
        nextPageToken: listed.next_page_token,
      };
    },

    async setReorderPoint(request, context) {
      const { place, reorder_point } = checked((check) => ({
        place: { part_id: check.id('part_id', request.partId), location_id: check.id('location_id', request.locationId) },
        reorder_point: check.optionalDecimal('reorder_point', request.reorderPoint, COUNTED_QUANTITY),
      }));
      const set = await reorder_points.set(ctx(context), place, reorder_point);
      return { partId: set.part_id, locationId: set.location_id, reorderPoint: set.reorder_point ?? '', qtyOnHand: set.qty_on_hand };
    },
  };
}

/**
 * Checks only the fields an update mask names: an update that changes the
 * name need not resend a valid part number.
 */
class MaskedCheck implements FieldCheck {
  constructor(
    private readonly inner: RequestCheck,
    private readonly names: readonly string[],
    private readonly prefix: string,
  ) {}

  private named(field: string): boolean {
    return this.names.includes(field.slice(this.prefix.length + 1));
  }

  text(field: string, value: string, rule: Parameters<RequestCheck['text']>[2]): string {
    return this.named(field) ? this.inner.text(field, value, rule) : value;
  }

  optionalDecimal(field: string, text: string, rule: Parameters<RequestCheck['optionalDecimal']>[2]) {
    return this.named(field) ? this.inner.optionalDecimal(field, text, rule) : null;
  }
}

