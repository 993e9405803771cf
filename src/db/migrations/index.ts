/**
 * Every migration, in the order it runs. Listed explicitly rather than found
 * by globbing a folder, so the compiled server and the tests run the same set.
 * Append only: a migration that has shipped is never edited in effect. (Its
 * SQL may change only where a database that ran it is untouched and a fresh
 * database ends the same after the whole chain, as when 0001-0004 stopped
 * granting to the legacy stockroom_app: Migration0001Foundation says why.)
 */
import type { MigrationObject } from '@mikro-orm/core';
import { Migration0001Foundation } from './Migration0001Foundation.js';
import { Migration0002Inventory } from './Migration0002Inventory.js';
import { Migration0003Parts } from './Migration0003Parts.js';
import { Migration0004FifoReceiptOrder } from './Migration0004FifoReceiptOrder.js';
import { Migration0004bDerivedBalances } from './Migration0004bDerivedBalances.js';
import { Migration0004cReferenceProductLimit } from './Migration0004cReferenceProductLimit.js';
import { Migration0005IdempotencyPurge } from './Migration0005IdempotencyPurge.js';
import { Migration0005bRuntimeRole } from './Migration0005bRuntimeRole.js';
import { Migration0006Holds } from './Migration0006Holds.js';
import { Migration0007Events } from './Migration0007Events.js';
import { Migration0007bWorkOrderHoldEvents } from './Migration0007bWorkOrderHoldEvents.js';
import { Migration0004dNewBalanceNotBackInStock } from './Migration0004dNewBalanceNotBackInStock.js';
import { Migration0012WorkOrderHoldCommitEvents } from './Migration0012WorkOrderHoldCommitEvents.js';
import { Migration0008LedgerPositions } from './Migration0008LedgerPositions.js';
import { Migration0008bPublicIds } from './Migration0008bPublicIds.js';
import { Migration0009aReserveOne } from './Migration0009aReserveOne.js';
import { Migration0009bShardSafeTriggers } from './Migration0009bShardSafeTriggers.js';
import { Migration0009cDistribute } from './Migration0009cDistribute.js';
import { Migration0013aInventoryTenantFunctions } from './Migration0013aInventoryTenantFunctions.js';
import { Migration0014aPartsTenantFunctions } from './Migration0014aPartsTenantFunctions.js';
import { Migration0014bLedgerIdentityRefused } from './Migration0014bLedgerIdentityRefused.js';
import { Migration0015aNodePositions } from './Migration0015aNodePositions.js';
import { Migration0016aDecidedInOneCall } from './Migration0016aDecidedInOneCall.js';

export const MIGRATIONS: MigrationObject[] = [
  { name: '0001_foundation', class: Migration0001Foundation },
  { name: '0002_inventory', class: Migration0002Inventory },
  { name: '0003_parts', class: Migration0003Parts },
  { name: '0004_fifo_receipt_order', class: Migration0004FifoReceiptOrder },
  { name: '0004b_derived_balances', class: Migration0004bDerivedBalances },
  { name: '0004c_reference_product_limit', class: Migration0004cReferenceProductLimit },
  { name: '0005_idempotency_purge', class: Migration0005IdempotencyPurge },
  { name: '0005b_runtime_role', class: Migration0005bRuntimeRole },
  { name: '0006_holds', class: Migration0006Holds },
  { name: '0007_events', class: Migration0007Events },
  { name: '0007b_work_order_hold_events', class: Migration0007bWorkOrderHoldEvents },
  // Issue 10's range, but it replaces a function of 0007, so it runs after it.
  { name: '0004d_new_balance_not_back_in_stock', class: Migration0004dNewBalanceNotBackInStock },
  { name: '0012_work_order_hold_commit_events', class: Migration0012WorkOrderHoldCommitEvents },
  // Issue 10's range; after 0012, which databases may already have run.
  { name: '0008_ledger_positions', class: Migration0008LedgerPositions },
  { name: '0008b_public_ids', class: Migration0008bPublicIds },
  { name: '0009a_reserve_one', class: Migration0009aReserveOne },
  { name: '0009b_shard_safe_triggers', class: Migration0009bShardSafeTriggers },
  // Distributes every table (and tenant function) when Citus is present; keep it after every migration that creates one.
  { name: '0009c_distribute', class: Migration0009cDistribute },
  { name: '0013a_inventory_tenant_functions', class: Migration0013aInventoryTenantFunctions },
  { name: '0015a_node_positions', class: Migration0015aNodePositions },
  // citus-parts' range, after 0015a, which databases may already have run.
  { name: '0014a_parts_tenant_functions', class: Migration0014aPartsTenantFunctions },
  { name: '0014b_ledger_identity_refused', class: Migration0014bLedgerIdentityRefused },
  { name: '0016a_decided_in_one_call', class: Migration0016aDecidedInOneCall },
];
