/**
 * The stock item as a MikroORM entity, for catalog CRUD (create, read,
 * rename, reorder point). Balances (on_hand, reserved) are mapped read-only
 * here on purpose: they change only through the stock paths in
 * stock-repository.ts, which lock rows in a fixed order and write the ledger.
 */
import { defineEntity, p } from '@mikro-orm/core';

export const InventoryItem = defineEntity({
  name: 'InventoryItem',
  tableName: 'inventory_items',
  properties: {
    // Composite key as in the table, so every UPDATE the ORM writes is scoped by tenant.
    tenant_id: p.string().primary(),
    id: p.uuid().primary().defaultRaw('gen_random_uuid()'),
    product_id: p.string(),
    sku: p.string(),
    name: p.string(),
    on_hand: p.bigint('bigint').defaultRaw('0'),
    reserved: p.bigint('bigint').defaultRaw('0'),
    reorder_point: p.bigint('bigint'),
    created_at: p.datetime().defaultRaw('now()'),
    updated_at: p.datetime().defaultRaw('now()'),
  },
});

export type InventoryItemEntity = InstanceType<typeof InventoryItem.class>;

export const INVENTORY_ENTITIES = [InventoryItem];
