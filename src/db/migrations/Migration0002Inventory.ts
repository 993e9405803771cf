import { Migration } from '@mikro-orm/migrations';
import { appendOnly, grantToRuntime, tenantTable } from './sql.js';

/**
 * Stock per product, reservations per order reference, and the movement
 * ledger. The CHECK constraints repeat the service's invariants so that a
 * bug in code cannot oversell or lose units silently: the statement fails
 * instead. Limits match the ones documented in inventory_service.proto.
 */
export class Migration0002Inventory extends Migration {
  override name = '0002_inventory';

  override up(): void {
    this.addSql(`create table inventory_items (
      tenant_id text not null,
      id uuid not null default gen_random_uuid(),
      product_id text not null,
      sku text not null default '',
      name text not null,
      on_hand bigint not null default 0,
      reserved bigint not null default 0,
      reorder_point bigint not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint inventory_items_pkey primary key (tenant_id, id),
      constraint inventory_items_product_unique unique (tenant_id, product_id),
      constraint inventory_items_on_hand_non_negative check (on_hand >= 0),
      constraint inventory_items_reserved_non_negative check (reserved >= 0),
      constraint inventory_items_reserved_within_on_hand check (reserved <= on_hand),
      constraint inventory_items_on_hand_limit check (on_hand <= 1000000000000000),
      constraint inventory_items_reorder_point_range check (reorder_point between 0 and 1000000000000),
      constraint inventory_items_product_id_length check (char_length(product_id) between 1 and 128),
      constraint inventory_items_sku_length check (char_length(sku) <= 64),
      constraint inventory_items_name_length check (char_length(name) between 1 and 200)
    )`);
    for (const statement of tenantTable('inventory_items', ['SELECT', 'INSERT', 'UPDATE'])) this.addSql(statement);

    // One row per (reference, product): held now, and what was committed and
    // released over time. Rows are never deleted, so a fully shipped order
    // still shows what it shipped.
    this.addSql(`create table inventory_reservations (
      tenant_id text not null,
      reference text not null,
      item_id uuid not null,
      held bigint not null default 0,
      committed bigint not null default 0,
      released bigint not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint inventory_reservations_pkey primary key (tenant_id, reference, item_id),
      constraint inventory_reservations_item_fkey foreign key (tenant_id, item_id) references inventory_items (tenant_id, id),
      constraint inventory_reservations_held_non_negative check (held >= 0),
      constraint inventory_reservations_committed_non_negative check (committed >= 0),
      constraint inventory_reservations_released_non_negative check (released >= 0),
      constraint inventory_reservations_reference_length check (char_length(reference) between 1 and 128)
    )`);
    // Open holds per item: what reconciliation sums to check `reserved`.
    this.addSql(`create index inventory_reservations_open_by_item on inventory_reservations (tenant_id, item_id) where held > 0`);
    for (const statement of tenantTable('inventory_reservations', ['SELECT', 'INSERT', 'UPDATE'])) this.addSql(statement);

    this.addSql(`create table inventory_movements (
      tenant_id text not null,
      id bigint generated always as identity (sequence name inventory_movements_id_seq),
      item_id uuid not null,
      type text not null,
      quantity bigint not null,
      on_hand_after bigint not null,
      reference text not null default '',
      notes text not null default '',
      created_by text not null,
      created_at timestamptz not null default now(),
      constraint inventory_movements_pkey primary key (tenant_id, id),
      constraint inventory_movements_item_fkey foreign key (tenant_id, item_id) references inventory_items (tenant_id, id),
      constraint inventory_movements_type_known check (type in ('INBOUND', 'OUTBOUND', 'ADJUST', 'RETURN_IN', 'DAMAGED')),
      constraint inventory_movements_quantity_sign check (
        case type
          when 'INBOUND' then quantity > 0
          when 'RETURN_IN' then quantity > 0
          when 'OUTBOUND' then quantity < 0
          when 'DAMAGED' then quantity < 0
          else quantity <> 0
        end),
      constraint inventory_movements_on_hand_after_non_negative check (on_hand_after >= 0),
      constraint inventory_movements_reference_length check (char_length(reference) <= 128),
      constraint inventory_movements_notes_length check (char_length(notes) <= 1000),
      constraint inventory_movements_created_by_present check (char_length(created_by) between 1 and 256)
    )`);
    // Newest-first keyset paging (scanned backwards), overall, per item and per
    // reference. Ascending columns let the row comparison (created_at, id) < ($t, $id)
    // of the page token use the index.
    this.addSql(`create index inventory_movements_newest on inventory_movements (tenant_id, created_at, id)`);
    this.addSql(`create index inventory_movements_item_newest on inventory_movements (tenant_id, item_id, created_at, id)`);
    this.addSql(`create index inventory_movements_reference_newest on inventory_movements (tenant_id, reference, created_at, id) where reference <> ''`);
    for (const statement of tenantTable('inventory_movements', ['SELECT', 'INSERT'])) this.addSql(statement);
    for (const statement of appendOnly('inventory_movements')) this.addSql(statement);
    this.addSql(grantToRuntime('usage', 'sequence inventory_movements_id_seq'));
  }
}
