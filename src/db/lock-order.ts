/**
 * LOCK ORDER — the one order in which every transaction of both services
 * takes its locks. A transaction may skip steps, never go back to an
 * earlier one: two transactions then always meet at the first lock they
 * share and queue there instead of deadlocking. (A deadlock is still
 * retried by TransactionRunner, but none is expected.)
 *
 * Inventory
 *   1. Item rows (inventory_items), in id order: LOCK_ITEMS_BY_PRODUCT,
 *      LOCK_ITEMS_HELD_BY, the single-product statements (one row), the
 *      hold sweeper (SKIP LOCKED, id order).
 *   2. Their reservation lines, only under their items' locks (the line
 *      writes, and the OUTBOUND movement's trigger for a commit).
 *   3. The order reference's lock (transaction-level advisory lock), taken
 *      by the trigger of a NEW line to count the reference's products
 *      exactly (migration 0004c).
 *   Item balances (on_hand, reserved) are changed only by the triggers of
 *   steps 2 and of the ledger insert, on rows step 1 already locked.
 *   Before step 1, every write claims its idempotency key (a second call
 *   with the key waits there). A coalesced batch of Reserves
 *   (src/inventory/reserve-batch.ts) claims its keys in key order, locks its
 *   one item, and writes its lines in reference order, so the reference
 *   locks of its new lines follow one order in every batch.
 *
 * Parts
 *   1. The part row: FOR KEY SHARE by every path that may create a balance
 *      (CREDIT_BALANCE: receive, return, count, adjust up, a transfer's
 *      destination; SetReorderPoint), FOR UPDATE by UpdatePart/DeletePart. A new balance's
 *      foreign key would otherwise lock the part after the balance, the
 *      other way round from DeletePart (a deadlock).
 *   2. Balance rows (part_balances): one, or a transfer's two in location id
 *      order; DIAGNOSE locks the balance a refusal reports on.
 *   3. Work-order holds of those balances (part_work_order_holds), only
 *      under the balance's lock.
 *   4. Layers (part_batches), in FIFO order, locked only by the movement
 *      triggers that change them, under their balance's lock. Nothing reads
 *      a layer FOR UPDATE: the balance lock guards its layers, and a layer of
 *      another place (ReturnToVendor naming a batch) is only read, and
 *      refused, never locked.
 *   A receipt then writes the part's last price (FOR NO KEY UPDATE on the
 *   part row it already key-shares): that lock conflicts only with writers
 *   of the part row, which take it at step 1 and hold no balance before it.
 *
 * Refusals (not enough stock) read their numbers under the lock of the row
 * they are about, and if the stock is there after all (it arrived since the
 * first statement's snapshot), the operation goes ahead under that lock.
 *
 * This module holds only this text, so that both services point to one
 * place; README.md ("Lock order") repeats it for operators.
 */
export {};
