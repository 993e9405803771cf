import { Migration } from '@mikro-orm/migrations';
import { appendOnly, grantToRuntime, tenantTable } from './sql.js';

/**
 * The parts store: catalog, locations, a balance per part and location (the
 * lock anchor), FIFO cost layers, work-order lines and the movement ledger.
 *
 * The CHECK constraints repeat the service's invariants so that a bug in code
 * fails the statement instead of corrupting stock: no negative quantity
 * anywhere, a layer never holds more than it received, a movement's sign
 * matches its type, a work-order line's total is exactly qty x cost.
 * Composite foreign keys that start with tenant_id make a row of one tenant
 * unable to point at a row of another, and a movement or line unable to
 * name a layer of another part or location. Limits match parts_service.proto.
 */
export class Migration0003Parts extends Migration {
  override name = '0003_parts';

  override up(): void {
    this.addSql(`create table parts (
      tenant_id text not null,
      id uuid not null default gen_random_uuid(),
      part_number text not null,
      name text not null,
      description text not null default '',
      make text not null default '',
      category text not null default '',
      component text not null default '',
      last_price numeric(18,4),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint parts_pkey primary key (tenant_id, id),
      constraint parts_part_number_unique unique (tenant_id, part_number),
      constraint parts_last_price_non_negative check (last_price >= 0),
      constraint parts_part_number_length check (char_length(part_number) between 1 and 64),
      constraint parts_name_length check (char_length(name) between 1 and 200),
      constraint parts_description_length check (char_length(description) <= 2000),
      constraint parts_make_length check (char_length(make) <= 100),
      constraint parts_category_length check (char_length(category) <= 100),
      constraint parts_component_length check (char_length(component) <= 100)
    )`);
    this.addSql(`create index parts_by_category on parts (tenant_id, category, part_number)`);
    this.addSql(`create index parts_by_make on parts (tenant_id, make, part_number)`);
    for (const statement of tenantTable('parts', ['SELECT', 'INSERT', 'UPDATE', 'DELETE'])) this.addSql(statement);

    this.addSql(`create table locations (
      tenant_id text not null,
      id uuid not null default gen_random_uuid(),
      site text not null,
      name text not null,
      description text not null default '',
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint locations_pkey primary key (tenant_id, id),
      constraint locations_site_name_unique unique (tenant_id, site, name),
      constraint locations_site_length check (char_length(site) between 1 and 64),
      constraint locations_name_length check (char_length(name) between 1 and 100),
      constraint locations_description_length check (char_length(description) <= 2000)
    )`);
    for (const statement of tenantTable('locations', ['SELECT', 'INSERT', 'UPDATE'])) this.addSql(statement);

    // The lock anchor: every stock operation locks its balance row(s) first,
    // so the layers behind it change one transaction at a time. Equal to the
    // sum of the location's layers and of its ledger (Reconcile checks).
    this.addSql(`create table part_balances (
      tenant_id text not null,
      part_id uuid not null,
      location_id uuid not null,
      qty_on_hand numeric(18,3) not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint part_balances_pkey primary key (tenant_id, part_id, location_id),
      constraint part_balances_part_fkey foreign key (tenant_id, part_id) references parts (tenant_id, id),
      constraint part_balances_location_fkey foreign key (tenant_id, location_id) references locations (tenant_id, id),
      constraint part_balances_qty_non_negative check (qty_on_hand >= 0)
    )`);
    this.addSql(`create index part_balances_by_location on part_balances (tenant_id, location_id, part_id)`);
    // DELETE only for the empty rows of a part that is deleted (no stock, no movements).
    for (const statement of tenantTable('part_balances', ['SELECT', 'INSERT', 'UPDATE', 'DELETE'])) this.addSql(statement);

    this.addSql(`create table part_batches (
      tenant_id text not null,
      id uuid not null default gen_random_uuid(),
      part_id uuid not null,
      location_id uuid not null,
      qty_received numeric(18,3) not null,
      qty_on_hand numeric(18,3) not null,
      unit_cost numeric(18,4) not null,
      received_at timestamptz not null,
      receipt_id text not null default '',
      source_batch_id uuid,
      created_at timestamptz not null default now(),
      constraint part_batches_pkey primary key (tenant_id, id),
      constraint part_batches_place_unique unique (tenant_id, part_id, location_id, id),
      constraint part_batches_balance_fkey foreign key (tenant_id, part_id, location_id) references part_balances (tenant_id, part_id, location_id),
      constraint part_batches_source_fkey foreign key (tenant_id, source_batch_id) references part_batches (tenant_id, id),
      constraint part_batches_qty_received_positive check (qty_received > 0),
      constraint part_batches_qty_on_hand_non_negative check (qty_on_hand >= 0),
      constraint part_batches_qty_on_hand_within_received check (qty_on_hand <= qty_received),
      constraint part_batches_unit_cost_non_negative check (unit_cost >= 0),
      constraint part_batches_receipt_id_length check (char_length(receipt_id) <= 128)
    )`);
    // FIFO: only layers with stock, in consumption order. An issue reads a
    // few entries of it however many used-up layers the part has.
    this.addSql(`create index part_batches_fifo on part_batches (tenant_id, part_id, location_id, received_at, id) where qty_on_hand > 0`);
    for (const statement of tenantTable('part_batches', ['SELECT', 'INSERT', 'UPDATE'])) this.addSql(statement);

    const types = `'RECEIVE', 'ISSUE', 'RETURN', 'TRANSFER_OUT', 'TRANSFER_IN', 'ADJUSTMENT', 'RTV_OUT', 'COUNT_ADJUST'`;
    // location_id is the location whose stock changed (the layer's); from and
    // to say where units came from and went, as the ledger's readers expect.
    this.addSql(`create table part_movements (
      tenant_id text not null,
      id bigint generated always as identity (sequence name part_movements_id_seq),
      type text not null,
      part_id uuid not null,
      location_id uuid not null,
      batch_id uuid not null,
      from_location_id uuid,
      to_location_id uuid,
      qty_delta numeric(18,3) not null,
      unit_cost numeric(18,4) not null,
      work_order_id text,
      receipt_id text not null default '',
      reason text not null default '',
      created_by text not null,
      created_at timestamptz not null default now(),
      constraint part_movements_pkey primary key (tenant_id, id),
      constraint part_movements_batch_fkey foreign key (tenant_id, part_id, location_id, batch_id)
        references part_batches (tenant_id, part_id, location_id, id),
      constraint part_movements_type_known check (type in (${types})),
      constraint part_movements_qty_sign check (
        case
          when type in ('RECEIVE', 'RETURN', 'TRANSFER_IN') then qty_delta > 0
          when type in ('ISSUE', 'TRANSFER_OUT', 'RTV_OUT') then qty_delta < 0
          else qty_delta <> 0
        end),
      constraint part_movements_sides check (
        case
          when type = 'TRANSFER_OUT' then from_location_id = location_id and to_location_id is not null and to_location_id <> location_id
          when type = 'TRANSFER_IN' then to_location_id = location_id and from_location_id is not null and from_location_id <> location_id
          when qty_delta > 0 then to_location_id = location_id and from_location_id is null
          else from_location_id = location_id and to_location_id is null
        end),
      constraint part_movements_work_order check ((type in ('ISSUE', 'RETURN')) = (work_order_id is not null)),
      constraint part_movements_work_order_length check (char_length(work_order_id) between 1 and 128),
      constraint part_movements_unit_cost_non_negative check (unit_cost >= 0),
      constraint part_movements_receipt_id_length check (char_length(receipt_id) <= 128),
      constraint part_movements_reason_length check (char_length(reason) <= 500),
      constraint part_movements_created_by_present check (char_length(created_by) between 1 and 256)
    )`);
    // Newest-first paging per part (and location), per location, per work order;
    // per-location sums for reconciliation.
    this.addSql(`create index part_movements_by_part on part_movements (tenant_id, part_id, location_id, id)`);
    this.addSql(`create index part_movements_by_location on part_movements (tenant_id, location_id, id)`);
    this.addSql(`create index part_movements_by_work_order on part_movements (tenant_id, work_order_id, id) where work_order_id is not null`);
    for (const statement of tenantTable('part_movements', ['SELECT', 'INSERT'])) this.addSql(statement);
    for (const statement of appendOnly('part_movements')) this.addSql(statement);
    this.addSql(grantToRuntime('usage', 'sequence part_movements_id_seq'));

    // What a work order consumed, layer by layer; a return is a negative
    // line. Append-only like the ledger: a line is never edited, so a work
    // order's cost is always the sum of its lines.
    this.addSql(`create table work_order_lines (
      tenant_id text not null,
      id bigint generated always as identity (sequence name work_order_lines_id_seq),
      work_order_id text not null,
      part_id uuid not null,
      location_id uuid not null,
      batch_id uuid not null,
      movement_id bigint not null,
      qty_used numeric(18,3) not null,
      unit_cost_snapshot numeric(18,4) not null,
      total_cost numeric(36,7) not null,
      created_at timestamptz not null default now(),
      constraint work_order_lines_pkey primary key (tenant_id, id),
      constraint work_order_lines_batch_fkey foreign key (tenant_id, part_id, location_id, batch_id)
        references part_batches (tenant_id, part_id, location_id, id),
      constraint work_order_lines_movement_fkey foreign key (tenant_id, movement_id) references part_movements (tenant_id, id),
      constraint work_order_lines_movement_unique unique (tenant_id, movement_id),
      constraint work_order_lines_qty_non_zero check (qty_used <> 0),
      constraint work_order_lines_unit_cost_non_negative check (unit_cost_snapshot >= 0),
      constraint work_order_lines_total_exact check (total_cost = qty_used * unit_cost_snapshot),
      constraint work_order_lines_work_order_length check (char_length(work_order_id) between 1 and 128)
    )`);
    this.addSql(`create index work_order_lines_by_work_order on work_order_lines (tenant_id, work_order_id, part_id, location_id, id)`);
    for (const statement of tenantTable('work_order_lines', ['SELECT', 'INSERT'])) this.addSql(statement);
    for (const statement of appendOnly('work_order_lines')) this.addSql(statement);
    this.addSql(grantToRuntime('usage', 'sequence work_order_lines_id_seq'));
  }
}
