/**
 * The statements of the raw-db ceiling: the very SQL the service sends for
 * each scenario, imported from the service, so that the ceiling does the
 * same database work without gRPC, handlers, the runner or the ORM.
 */
export { COMMIT_STEP, beginSteps } from '../../src/db/transaction.js';
export { APPLY_COMMIT, APPLY_RESERVE, COMMIT_PRODUCT, LOCK_ITEMS_BY_PRODUCT, READ_AVAILABILITY, RESERVE_PRODUCT } from '../../src/inventory/stock-repository.js';
export { CHANGE_LAYERS, DEBIT_BALANCE, FIFO_FIRST, FIFO_NEXT } from '../../src/parts/stock-statements.js';

export interface RawStatement {
  readonly name: string;
  readonly text: string;
}
