/**
 * InventoryService over Connect/gRPC: each method checks and converts its
 * request, calls the domain, and renders the result. No SQL and no business
 * rules here; errors are domain errors, mapped by the server's interceptor.
 */
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { timestampDate, type Duration, type Timestamp } from '@bufbuild/protobuf/wkt';
import { sealPosition } from '../db/position.js';
import { RequestCheck } from '../shared/request-check.js';
import type { Micros } from '../shared/time.js';
import { callContext } from '../server/context.js';
import { InventoryService, ReservationState } from '../../gen/stockroom/inventory/v1/inventory_service_pb.js';
import { holdLifetime, type HoldPolicy } from '../shared/hold-lifetime.js';
import type { HoldLifetimes, ReservationFilter } from './holds.js';
import type { Catalog } from './catalog.js';
import { holdExpiryMessage, itemMessage, movementMessage, movementTypeFromMessage, reservationLineMessage } from './convert.js';
import type { InventoryHealth } from './health.js';
import { checkInventoryHealth, reconcile } from './health-handler.js';
import type { Ledger, MovementFilter } from './ledger.js';
import { LIMITS } from './limits.js';
import type { OrderResult, StockChangeResult } from './model.js';
import type { OrderFlow } from './orders.js';
import type { StockChanges } from './stock-changes.js';
import { orderLines, PAGE_SIZE, quantity, TEXT } from './validation.js';

type Impl = ServiceImpl<typeof InventoryService>;

export interface InventoryDomain {
  readonly catalog: Catalog;
  readonly orders: OrderFlow;
  readonly stock: StockChanges;
  readonly ledger: Ledger;
  readonly health: InventoryHealth;
  readonly holds: HoldLifetimes;
  readonly hold_policy: HoldPolicy;
}

const RESERVATION_STATES: Record<number, ReservationFilter['state'] | null> = {
  [ReservationState.UNSPECIFIED]: undefined,
  [ReservationState.HELD]: 'HELD',
  [ReservationState.COMMITTED]: 'COMMITTED',
  [ReservationState.RELEASED]: 'RELEASED',
  [ReservationState.EXPIRED]: 'EXPIRED',
};

function lifetime(checks: RequestCheck, field: string, ttl: Duration | undefined, policy: HoldPolicy, required = false): number | undefined {
  const result = holdLifetime(ttl, policy, required);
  if (result.problem !== undefined) checks.fail(field, result.problem);
  return result.ttl_ms;
}

/** Reserve and Release responses: the touched lines and balances. */
function holdResponse(result: OrderResult) {
  return {
    reference: result.reference,
    lines: result.lines.map(reservationLineMessage),
    items: result.items.map(itemMessage),
  };
}

function stockResponse(result: StockChangeResult) {
  return { item: itemMessage(result.item), movement: movementMessage(result.movement) };
}

/** A filter time in microseconds (finer digits are dropped). */
function time(checks: RequestCheck, field: string, value: Timestamp | undefined): Micros | undefined {
  if (value === undefined) return undefined;
  const date = timestampDate(value);
  const year = date.getUTCFullYear();
  if (Number.isNaN(date.getTime()) || year < 1 || year > 9999 || value.nanos < 0 || value.nanos > 999_999_999) {
    checks.fail(field, 'must be a valid timestamp between years 1 and 9999');
    return undefined;
  }
  return value.seconds * 1_000_000n + BigInt(Math.floor(value.nanos / 1_000));
}

/** A receipt-like request: inbound, return and damage share their shape. */
function receipt(request: { productId: string; quantity: bigint; reference: string; notes: string; idempotencyKey: string }) {
  const checks = new RequestCheck();
  const input = {
    product_id: checks.text('product_id', request.productId, TEXT.product_id),
    quantity: quantity(checks, 'quantity', request.quantity),
    reference: checks.text('reference', request.reference, TEXT.optional_reference),
    notes: checks.text('notes', request.notes, TEXT.notes),
  };
  const key = checks.idempotencyKey('idempotency_key', request.idempotencyKey);
  checks.done();
  return { input, key };
}

export class InventoryHandler implements Impl {
  constructor(private readonly domain: InventoryDomain) {}

  createItem: Impl['createItem'] = async (request, context: HandlerContext) => {
    const checks = new RequestCheck();
    const input = {
      product_id: checks.text('product_id', request.productId, TEXT.product_id),
      sku: checks.text('sku', request.sku, TEXT.sku),
      name: checks.text('name', request.name, TEXT.name),
      reorder_point: checks.units('reorder_point', request.reorderPoint, 0n, LIMITS.reorder_point_max),
    };
    const key = checks.idempotencyKey('idempotency_key', request.idempotencyKey);
    checks.done();
    return { item: itemMessage(await this.domain.catalog.createItem(callContext(context), input, key)) };
  };

  getItem: Impl['getItem'] = async (request, context) => {
    const checks = new RequestCheck();
    const product_id = checks.text('product_id', request.productId, TEXT.product_id);
    checks.done();
    return { item: itemMessage(await this.domain.catalog.getItem(callContext(context), product_id)) };
  };

  listItems: Impl['listItems'] = async (request, context) => {
    const checks = new RequestCheck();
    const size = checks.pageSize('page_size', request.pageSize, PAGE_SIZE);
    if (request.productIds.length > LIMITS.lines_per_request) {
      checks.fail('product_ids', `must name at most ${LIMITS.lines_per_request} products, got ${request.productIds.length}`);
    }
    const product_ids = request.productIds.slice(0, LIMITS.lines_per_request).map((id, index) => checks.text(`product_ids[${index}]`, id, TEXT.product_id));
    checks.done();
    const page = await this.domain.catalog.listItems(
      callContext(context),
      { needs_reorder: request.needsReorder, product_ids: [...new Set(product_ids)].sort() },
      { size, token: request.pageToken },
    );
    return { items: page.rows.map(itemMessage), nextPageToken: page.next_page_token };
  };

  updateItem: Impl['updateItem'] = async (request, context) => {
    const checks = new RequestCheck();
    const item = request.item;
    if (!item) checks.fail('item', 'is required; item.product_id names the item to change');
    const fields = checks.maskPaths('update_mask', request.updateMask?.paths ?? [], ['name', 'reorder_point'] as const);
    const changes = {
      product_id: checks.text('item.product_id', item?.productId ?? '', TEXT.product_id),
      name: fields.includes('name') ? checks.text('item.name', item?.name ?? '', TEXT.name) : undefined,
      reorder_point: fields.includes('reorder_point') ? checks.units('item.reorder_point', item?.reorderPoint ?? 0n, 0n, LIMITS.reorder_point_max) : undefined,
    };
    const key = checks.idempotencyKey('idempotency_key', request.idempotencyKey);
    checks.done();
    return { item: itemMessage(await this.domain.catalog.updateItem(callContext(context), changes, key)) };
  };

  checkAvailability: Impl['checkAvailability'] = async (request, context) => {
    const checks = new RequestCheck();
    const lines = orderLines(checks, 'items', request.items, 1);
    checks.done();
    const result = await this.domain.orders.checkAvailability(callContext(context), lines);
    return {
      available: result.available,
      items: result.lines.map((line) => ({
        productId: line.product_id,
        requested: line.requested,
        available: line.available,
        sufficient: line.sufficient,
      })),
    };
  };

  reserve: Impl['reserve'] = async (request, context) => {
    const checks = new RequestCheck();
    const input = {
      lines: orderLines(checks, 'items', request.items, 1),
      reference: checks.text('reference', request.reference, TEXT.order_reference),
      ttl_ms: lifetime(checks, 'ttl', request.ttl, this.domain.hold_policy),
    };
    const key = checks.idempotencyKey('idempotency_key', request.idempotencyKey);
    checks.done();
    return holdResponse(await this.domain.orders.reserve(callContext(context), input, key));
  };

  release: Impl['release'] = async (request, context) => {
    const checks = new RequestCheck();
    const input = { lines: orderLines(checks, 'items', request.items, 0), reference: checks.text('reference', request.reference, TEXT.order_reference) };
    const key = checks.idempotencyKey('idempotency_key', request.idempotencyKey);
    checks.done();
    return holdResponse(await this.domain.orders.release(callContext(context), input, key));
  };

  commitOutbound: Impl['commitOutbound'] = async (request, context) => {
    const checks = new RequestCheck();
    const input = {
      lines: orderLines(checks, 'items', request.items, 1),
      reference: checks.text('reference', request.reference, TEXT.order_reference),
      notes: checks.text('notes', request.notes, TEXT.notes),
    };
    const key = checks.idempotencyKey('idempotency_key', request.idempotencyKey);
    checks.done();
    const result = await this.domain.orders.commitOutbound(callContext(context), input, key);
    return { ...holdResponse(result), movements: result.movements.map(movementMessage) };
  };

  getReservation: Impl['getReservation'] = async (request, context) => {
    const checks = new RequestCheck();
    const reference = checks.text('reference', request.reference, TEXT.order_reference);
    checks.done();
    const lines = await this.domain.orders.getReservation(callContext(context), reference);
    const expiries = await this.domain.holds.expiries(callContext(context), reference);
    return {
      reservation: { reference, lines: lines.map(reservationLineMessage) },
      expiries: expiries.map(holdExpiryMessage),
    };
  };

  extendReservation: Impl['extendReservation'] = async (request, context) => {
    const checks = new RequestCheck();
    const reference = checks.text('reference', request.reference, TEXT.order_reference);
    const ttl_ms = lifetime(checks, 'ttl', request.ttl, this.domain.hold_policy, true);
    const key = checks.idempotencyKey('idempotency_key', request.idempotencyKey);
    checks.done();
    const lines = await this.domain.holds.extend(callContext(context), { reference, ttl_ms: ttl_ms! }, key);
    return { reference, lines: lines.map(reservationLineMessage) };
  };

  listReservations: Impl['listReservations'] = async (request, context) => {
    const checks = new RequestCheck();
    const size = checks.pageSize('page_size', request.pageSize, PAGE_SIZE);
    const state = RESERVATION_STATES[request.state];
    if (state === null || !(request.state in RESERVATION_STATES)) checks.fail('state', `is not a known reservation state: ${request.state}`);
    const filter: ReservationFilter = {
      state: state ?? undefined,
      product_id: request.productId === '' ? undefined : checks.text('product_id', request.productId, TEXT.product_id),
      expire_before: time(checks, 'expire_before', request.expireBefore),
    };
    checks.done();
    const page = await this.domain.holds.list(callContext(context), filter, { size, token: request.pageToken });
    return { lines: page.rows.map(reservationLineMessage), nextPageToken: page.next_page_token };
  };

  recordInbound: Impl['recordInbound'] = async (request, context) => {
    const { input, key } = receipt(request);
    return stockResponse(await this.domain.stock.recordInbound(callContext(context), input, key));
  };

  recordReturn: Impl['recordReturn'] = async (request, context) => {
    const { input, key } = receipt(request);
    return stockResponse(await this.domain.stock.recordReturn(callContext(context), input, key));
  };

  recordDamage: Impl['recordDamage'] = async (request, context) => {
    const { input, key } = receipt(request);
    return stockResponse(await this.domain.stock.recordDamage(callContext(context), input, key));
  };

  adjustInventory: Impl['adjustInventory'] = async (request, context) => {
    const checks = new RequestCheck();
    const delta = request.quantityDelta;
    if (delta === 0n) checks.fail('quantity_delta', 'must not be zero');
    const input = {
      product_id: checks.text('product_id', request.productId, TEXT.product_id),
      quantity_delta: checks.units('quantity_delta', delta, -LIMITS.quantity_max, LIMITS.quantity_max),
      reason: checks.text('reason', request.reason, TEXT.reason),
    };
    const key = checks.idempotencyKey('idempotency_key', request.idempotencyKey);
    checks.done();
    return stockResponse(await this.domain.stock.adjust(callContext(context), input, key));
  };

  listMovements: Impl['listMovements'] = async (request, context) => {
    const checks = new RequestCheck();
    const size = checks.pageSize('page_size', request.pageSize, PAGE_SIZE);
    const type = movementTypeFromMessage(request.type);
    if (type === null) checks.fail('type', `is not a known movement type: ${request.type}`);
    const filter: MovementFilter = {
      item_id: request.itemId === '' ? undefined : checks.id('item_id', request.itemId),
      product_id: request.productId === '' ? undefined : checks.text('product_id', request.productId, TEXT.product_id),
      type: type ?? undefined,
      reference: request.reference === '' ? undefined : checks.text('reference', request.reference, TEXT.optional_reference),
      start_time: time(checks, 'start_time', request.startTime),
      end_time: time(checks, 'end_time', request.endTime),
    };
    if (filter.start_time && filter.end_time && filter.start_time >= filter.end_time) checks.fail('end_time', 'must be after start_time');
    const after = checks.pollPosition(request);
    checks.done();
    if (after !== undefined) {
      const polled = await this.domain.ledger.movementsAfter(callContext(context), filter, after, size);
      return { movements: polled.rows.map(movementMessage), lastPosition: sealPosition(polled.last_position) };
    }
    const page = await this.domain.ledger.listMovements(callContext(context), filter, { size, token: request.pageToken });
    return { movements: page.rows.map(movementMessage), nextPageToken: page.next_page_token };
  };

  checkInventoryHealth: Impl['checkInventoryHealth'] = (request, context) => checkInventoryHealth(this.domain.health, request, context);

  reconcile: Impl['reconcile'] = (request, context) => reconcile(this.domain.health, request, context);
}
