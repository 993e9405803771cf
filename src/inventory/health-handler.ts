/**
 * CheckInventoryHealth and Reconcile over Connect: check the request, call
 * InventoryHealth, render the report. Kept beside handler.ts so the order
 * flow's handler stays about the order flow.
 */
import type { HandlerContext } from '@connectrpc/connect';
import { timestampFromMicros } from '../shared/time.js';
import type {
  CheckInventoryHealthRequest,
  ReconcileRequest,
} from '../../gen/stockroom/inventory/v1/inventory_service_pb.js';
import { callContext } from '../server/context.js';
import type { HealthFinding, InventoryHealth } from './health.js';
import { RequestCheck } from '../shared/request-check.js';
import { PAGE_SIZE, TEXT } from './validation.js';

function findingMessage(found: HealthFinding) {
  return {
    count: found.count,
    examples: found.examples.map((example) => ({
      itemId: example.item_id,
      productId: example.product_id,
      movementId: example.movement_id ?? '',
      reference: example.reference ?? '',
      detail: example.detail,
    })),
  };
}

export async function checkInventoryHealth(health: InventoryHealth, _request: CheckInventoryHealthRequest, context: HandlerContext) {
  const report = await health.checkHealth(callContext(context));
  return {
    healthy: report.healthy,
    onHandLedgerMismatches: findingMessage(report.on_hand_ledger_mismatches),
    reservedHoldMismatches: findingMessage(report.reserved_hold_mismatches),
    onHandAfterBreaks: findingMessage(report.on_hand_after_breaks),
    commitLedgerMismatches: findingMessage(report.commit_ledger_mismatches),
    itemsChecked: report.items_checked,
    checkTime: timestampFromMicros(report.checked_at),
  };
}

export async function reconcile(health: InventoryHealth, request: ReconcileRequest, context: HandlerContext) {
  const checks = new RequestCheck();
  const size = checks.pageSize('page_size', request.pageSize, PAGE_SIZE);
  const filter = {
    product_id: request.productId === '' ? '' : checks.text('product_id', request.productId, TEXT.product_id),
    only_differences: request.onlyDifferences,
  };
  checks.done();
  const listed = await health.reconcile(callContext(context), filter, { size, token: request.pageToken });
  return {
    rows: listed.items.map((row) => ({
      itemId: row.item_id,
      productId: row.product_id,
      onHand: row.on_hand,
      ledgerOnHand: row.ledger_on_hand,
      lastOnHandAfter: row.last_on_hand_after,
      reserved: row.reserved,
      held: row.held,
      onHandMinusLedger: row.on_hand - row.ledger_on_hand,
      reservedMinusHeld: row.reserved - row.held,
      consistent: row.consistent,
    })),
    inconsistentRows: listed.items.filter((row) => !row.consistent).length,
    nextPageToken: listed.next_page_token,
  };
}
