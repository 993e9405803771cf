/**
 * The raw-db ceiling: each scenario's transaction issued from Node straight
 * through node-postgres (a pool capped like the server's, named prepared
 * statements, connections switched to the service role so row-level
 * security applies), with no gRPC, no handlers and no ORM. What the service
 * adds on top of this is its own cost.
 */
import pg from 'pg';
import { Pipeline, type PipelineStep } from '../../src/db/pipeline.js';
import { runtimeRoleFor } from '../../src/db/runtime-role.js';
import { connectionConfig } from '../../src/db/session.js';
import { Decimal, type DecimalValue } from '../../src/shared/decimal.js';
import {
  APPLY_COMMIT,
  APPLY_RESERVE,
  CHANGE_LAYERS,
  DEBIT_BALANCE,
  FIFO_FIRST,
  FIFO_NEXT,
  LOCK_ITEMS_BY_PRODUCT,
  READ_AVAILABILITY,
  COMMIT_PRODUCT,
  RESERVE_PRODUCT,
  COMMIT_STEP,
  beginSteps,
  type RawStatement,
} from './raw-statements.js';

/** A refusal the service would answer with a gRPC code (e.g. not enough stock). */
export class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const ABORTING_STATES = new Set(['55P03', '40P01', '40001', '57014']);

export function rawErrorClass(error: unknown): string {
  if (error instanceof Refusal) return error.code;
  const state = (error as { code?: unknown } | null)?.code;
  if (typeof state === 'string') return ABORTING_STATES.has(state) ? 'ABORTED' : `SQLSTATE_${state}`;
  return error instanceof Error ? error.name : 'UNKNOWN_ERROR';
}

export interface OrderLine {
  readonly product_id: string;
  readonly quantity: bigint;
}

interface ItemRow {
  id: string;
  product_id: string;
  on_hand: string;
  reserved: string;
}

// Mirrors src/parts/limits.ts: first FIFO read, growing 4x per further read.
const LAYERS_FIRST_READ = 8;
const LAYERS_PER_OPERATION_MAX = 10_000;

export class RawDb {
  private readonly pool: pg.Pool;
  private readonly limits: { lock_timeout_ms: number; statement_timeout_ms: number };

  constructor(url: string, pool_max: number, lock_timeout_ms: number, statement_timeout_ms: number) {
    this.pool = new pg.Pool(connectionConfig(url, { max: pool_max, idleTimeoutMillis: 30_000 }));
    // Once per physical connection, as the service does (src/db/orm.ts).
    this.pool.on('connect', (client) => void client.query(`set role ${pg.escapeIdentifier(runtimeRoleFor(url))}`));
    this.limits = { lock_timeout_ms, statement_timeout_ms };
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  private async transaction<T>(tenant: string, read_only: boolean, work: (run: Runner) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // As the service sends them (src/db/transaction.ts): BEGIN and the
    // settings go with the first statement, and a last statement that
    // decides by itself takes COMMIT along, each pipeline one round trip.
    let begin: PipelineStep[] | undefined = beginSteps(tenant, this.limits, read_only, 'bench');
    let committed = false;
    const run: Runner = async <Row>(statement: RawStatement, values: unknown[], last = false) => {
      const step: PipelineStep = { name: statement.name, text: statement.text, values, rows: true };
      const pipeline = new Pipeline([...(begin ?? []), step, ...(last ? [COMMIT_STEP] : [])]);
      begin = undefined;
      await client.query(pipeline);
      committed = last;
      return (await pipeline).rows as Row[];
    };
    try {
      const result = await work(run);
      if (begin === undefined && !committed) await client.query('commit');
      client.release();
      return result;
    } catch (error) {
      try {
        if (!committed) await client.query('rollback');
        client.release();
      } catch {
        client.release(true);
      }
      throw error;
    }
  }

  /**
   * Reserve as the service does it: one product in one call that decides
   * and commits (lock, check, write or refuse); several in id order: lock
   * the items, check what is available, hold the units.
   */
  reserve(tenant: string, reference: string, lines: readonly OrderLine[]): Promise<void> {
    return this.transaction(tenant, false, async (run) => {
      if (lines.length === 1) {
        const [line] = lines;
        const [row] = await run<{ admitted: boolean }>(RESERVE_PRODUCT, [tenant, line.product_id, String(line.quantity), reference, null], true);
        if (row === undefined) throw new Refusal('NOT_FOUND', `no product ${line.product_id}`);
        if (!row.admitted) throw new Refusal('FAILED_PRECONDITION', 'insufficient stock');
        return;
      }
      const items = await run<ItemRow>(LOCK_ITEMS_BY_PRODUCT, [tenant, lines.map((line) => line.product_id)]);
      const by_product = new Map(items.map((item) => [item.product_id, item]));
      for (const line of lines) {
        const item = by_product.get(line.product_id);
        if (!item) throw new Refusal('NOT_FOUND', `no product ${line.product_id}`);
        if (line.quantity > BigInt(item.on_hand) - BigInt(item.reserved)) throw new Refusal('FAILED_PRECONDITION', 'insufficient stock');
      }
      const change = inLockOrder(lines, by_product);
      const rows = await run(APPLY_RESERVE, [tenant, change.ids, change.quantities, reference]);
      if (rows.length !== lines.length) throw new Error('reserve wrote fewer lines than asked');
    });
  }

  /** CommitOutbound as the service does it: one product in one call that decides and commits; several: lock the items, then ship what the reference holds. */
  commitOutbound(tenant: string, reference: string, lines: readonly OrderLine[], subject: string): Promise<void> {
    return this.transaction(tenant, false, async (run) => {
      if (lines.length === 1) {
        const [line] = lines;
        const [row] = await run<{ admitted: boolean }>(COMMIT_PRODUCT, [tenant, line.product_id, String(line.quantity), reference, '', subject], true);
        if (row === undefined) throw new Refusal('NOT_FOUND', `no product ${line.product_id}`);
        if (!row.admitted) throw new Refusal('FAILED_PRECONDITION', 'reservation exceeded');
        return;
      }
      const items = await run<ItemRow>(LOCK_ITEMS_BY_PRODUCT, [tenant, lines.map((line) => line.product_id)]);
      const by_product = new Map(items.map((item) => [item.product_id, item]));
      for (const line of lines) if (!by_product.has(line.product_id)) throw new Refusal('NOT_FOUND', `no product ${line.product_id}`);
      const change = inLockOrder(lines, by_product);
      const rows = await run(APPLY_COMMIT, [tenant, change.ids, change.quantities, reference, '', subject]);
      if (rows.length !== lines.length) throw new Refusal('FAILED_PRECONDITION', 'reservation exceeded');
    });
  }

  /** CheckAvailability: one snapshot read. */
  checkAvailability(tenant: string, lines: readonly OrderLine[]): Promise<boolean> {
    return this.transaction(tenant, true, async (run) => {
      const rows = await run<ItemRow>(READ_AVAILABILITY, [tenant, lines.map((line) => line.product_id)]);
      const by_product = new Map(rows.map((row) => [row.product_id, row]));
      let available = true;
      for (const line of lines) {
        const row = by_product.get(line.product_id);
        if (!row) throw new Refusal('NOT_FOUND', `no product ${line.product_id}`);
        if (line.quantity > BigInt(row.on_hand) - BigInt(row.reserved)) available = false;
      }
      return available;
    });
  }

  /** IssueToWorkOrder: debit the balance (the lock), take layers FIFO, write layers, ledger and work-order lines. */
  issue(tenant: string, place: { part_id: string; location_id: string }, work_order_id: string, qty: DecimalValue, subject: string): Promise<void> {
    return this.transaction(tenant, false, async (run) => {
      const [balance] = await run(DEBIT_BALANCE, [tenant, place.part_id, place.location_id, qty.toFixed(3)]);
      if (!balance) throw new Refusal('FAILED_PRECONDITION', 'insufficient stock');
      const taken: { batch_id: string; qty: DecimalValue; unit_cost: DecimalValue }[] = [];
      let remaining = qty;
      let limit = LAYERS_FIRST_READ;
      let last: { id: string; received_us: string; receipt_seq: string } | undefined;
      while (remaining.gt(0)) {
        const rows = last
          ? await run<FifoLayer>(FIFO_NEXT, [tenant, place.part_id, place.location_id, limit, last.received_us, last.receipt_seq])
          : await run<FifoLayer>(FIFO_FIRST, [tenant, place.part_id, place.location_id, limit]);
        for (const row of rows) {
          const take = Decimal.min(new Decimal(row.qty_on_hand), remaining);
          taken.push({ batch_id: row.id, qty: take, unit_cost: new Decimal(row.unit_cost) });
          remaining = remaining.minus(take);
          if (remaining.isZero()) break;
        }
        if (!remaining.isZero() && rows.length < limit) throw new Error('layers hold less than the balance');
        last = rows.at(-1);
        limit = Math.min(limit * 4, LAYERS_PER_OPERATION_MAX);
      }
      const rows = await run(CHANGE_LAYERS, [
        tenant,
        place.part_id,
        place.location_id,
        taken.map((layer) => layer.batch_id),
        taken.map((layer) => layer.qty.neg().toFixed(3)),
        taken.map((layer) => layer.unit_cost.toFixed(4)),
        'ISSUE',
        work_order_id,
        '',
        '',
        subject,
      ]);
      if (rows.length !== taken.length) throw new Error('issue wrote fewer movements than layers');
    });
  }
}

type FifoLayer = { id: string; qty_on_hand: string; unit_cost: string; received_us: string; receipt_seq: string };

/** Runs a statement; `last`: the transaction's last, COMMIT going with it. */
type Runner = <Row>(statement: RawStatement, values: unknown[], last?: boolean) => Promise<Row[]>;

function inLockOrder(lines: readonly OrderLine[], items: Map<string, ItemRow>): { ids: string[]; quantities: string[] } {
  const pairs = lines.map((line) => ({ id: items.get(line.product_id)!.id, quantity: line.quantity }));
  pairs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { ids: pairs.map((pair) => pair.id), quantities: pairs.map((pair) => String(pair.quantity)) };
}
