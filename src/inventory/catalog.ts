/**
 * The catalog of stock items: create, read, list, rename and set the reorder
 * point. Single rows through the ORM; balances are never written here.
 */
import { LockMode, sql as ormSql } from '@mikro-orm/core';
import { binder, sql, type TransactionRunner } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';
import { AlreadyExistsError, NotFoundError } from '../shared/errors.js';
import type { IdempotencyStore } from '../shared/idempotency.js';
import { InventoryItem, type InventoryItemEntity } from './entities.js';
import { inventoryMethod } from './methods.js';
import { itemView, type ItemView, type Page } from './model.js';
import { decodePageToken, pageOf, type PageScope } from '../shared/page-token.js';
import { microsFromInstant } from '../shared/time.js';
import { ITEM_COLUMNS, toItem, type ItemRow } from './rows.js';

/**
 * A product id is unique per tenant: a taken one inserts nothing and returns
 * no row, which is the ALREADY_EXISTS answer. Decided by what the statement
 * returned, not by a constraint name in an error, which a distributed engine
 * (Citus names the shard) does not carry through.
 */
const CREATE_ITEM = sql(
  'inventory_create_item',
  `insert into inventory_items as i (tenant_id, product_id, sku, name, reorder_point)
   values ($1, $2, $3, $4, $5)
   on conflict (tenant_id, product_id) do nothing
   returning ${ITEM_COLUMNS}`,
);

export interface NewItem {
  readonly product_id: string;
  readonly sku: string;
  readonly name: string;
  readonly reorder_point: bigint;
}

/** Fields to change; absent ones stay as they are. */
export interface ItemChanges {
  readonly product_id: string;
  readonly name?: string;
  readonly reorder_point?: bigint;
}

export interface ItemFilter {
  /** Only items whose needs_reorder equals this, when set. */
  readonly needs_reorder?: boolean;
  /** Only these products, when not empty. */
  readonly product_ids: readonly string[];
}

function view(entity: InventoryItemEntity): ItemView {
  return itemView({ ...entity, created_at: microsFromInstant(entity.created_at), updated_at: microsFromInstant(entity.updated_at) });
}

export class Catalog {
  constructor(
    private readonly runner: TransactionRunner,
    private readonly idempotency: IdempotencyStore,
  ) {}

  createItem(context: CallContext, input: NewItem, idempotency_key: string | undefined): Promise<ItemView> {
    return this.runner.run(context, (tx) =>
      this.idempotency.run(tx, { method: inventoryMethod('CreateItem'), key: idempotency_key, input }, async () => {
        const [row] = await tx.query<ItemRow>(CREATE_ITEM, [tx.caller.tenant_id, input.product_id, input.sku, input.name, String(input.reorder_point)]);
        if (row === undefined) throw new AlreadyExistsError('product', input.product_id);
        return toItem(row);
      }),
    );
  }

  getItem(context: CallContext, product_id: string): Promise<ItemView> {
    return this.runner.run(
      context,
      async (tx) => {
        const entity = await tx.em.findOne(InventoryItem, { tenant_id: tx.caller.tenant_id, product_id });
        if (!entity) throw new NotFoundError('product', product_id, 'product_id');
        return view(entity);
      },
      { read_only: true },
    );
  }

  updateItem(context: CallContext, changes: ItemChanges, idempotency_key: string | undefined): Promise<ItemView> {
    return this.runner.run(context, (tx) =>
      this.idempotency.run(tx, { method: inventoryMethod('UpdateItem'), key: idempotency_key, input: changes }, async () => {
        const entity = await tx.em.findOne(
          InventoryItem,
          { tenant_id: tx.caller.tenant_id, product_id: changes.product_id },
          { lockMode: LockMode.PESSIMISTIC_WRITE },
        );
        if (!entity) throw new NotFoundError('product', changes.product_id, 'item.product_id');
        if (changes.name !== undefined) entity.name = changes.name;
        if (changes.reorder_point !== undefined) entity.reorder_point = changes.reorder_point;
        entity.updated_at = ormSql<Date>`now()`;
        await tx.em.flush();
        return view(entity);
      }),
    );
  }

  /** Items ordered by product id; the page token carries the last product id. */
  listItems(context: CallContext, filter: ItemFilter, page: { size: number; token: string }): Promise<Page<ItemView>> {
    const scope: PageScope = { tenant_id: context.caller.tenant_id, list: 'inventory.items', filter };
    const after = decodePageToken(page.token, scope, ['text'])?.[0];
    return this.runner.run(
      context,
      async (tx) => {
        const params: unknown[] = [tx.caller.tenant_id];
        const where = ['i.tenant_id = $1'];
        const bind = binder(params);
        if (filter.product_ids.length > 0) where.push(`i.product_id = any(${bind(filter.product_ids)}::text[])`);
        if (filter.needs_reorder !== undefined) where.push(`((i.on_hand - i.reserved) <= i.reorder_point) = ${bind(filter.needs_reorder)}::boolean`);
        if (after !== undefined) where.push(`i.product_id > ${bind(after)}`);
        const rows = await tx.queryDynamic<ItemRow>(
          `select ${ITEM_COLUMNS} from inventory_items i where ${where.join(' and ')} order by i.product_id limit ${bind(page.size + 1)}`,
          params,
        );
        const listed = pageOf(rows, page.size, scope, (row) => [row.product_id], toItem);
        return { rows: listed.items, next_page_token: listed.next_page_token };
      },
      { read_only: true },
    );
  }
}
