/**
 * Parts and locations as MikroORM entities, for catalog CRUD. Stock (layers,
 * balances, ledger, work-order lines) has no entity on purpose: it changes
 * only through the prepared statements in stock-statements.ts, which lock in
 * a fixed order and write the ledger in the same statement.
 */
import { defineEntity, p } from '@mikro-orm/core';

export const PartEntity = defineEntity({
  name: 'Part',
  tableName: 'parts',
  properties: {
    // Composite key as in the table, so every UPDATE and DELETE the ORM writes is scoped by tenant.
    tenant_id: p.string().primary(),
    id: p.uuid().primary().defaultRaw('gen_random_uuid()'),
    part_number: p.string(),
    name: p.string(),
    description: p.string(),
    make: p.string(),
    category: p.string(),
    component: p.string(),
    // NUMERIC(18,4) read as a string: the domain turns it into a Decimal, never a float.
    last_price: p.decimal('string').nullable(),
    created_at: p.datetime().defaultRaw('now()'),
    updated_at: p.datetime().defaultRaw('now()'),
  },
});

export type PartRecord = InstanceType<typeof PartEntity.class>;

export const LocationEntity = defineEntity({
  name: 'Location',
  tableName: 'locations',
  properties: {
    tenant_id: p.string().primary(),
    id: p.uuid().primary().defaultRaw('gen_random_uuid()'),
    site: p.string(),
    name: p.string(),
    description: p.string(),
    created_at: p.datetime().defaultRaw('now()'),
    updated_at: p.datetime().defaultRaw('now()'),
  },
});

export type LocationRecord = InstanceType<typeof LocationEntity.class>;

export const PARTS_ENTITIES = [PartEntity, LocationEntity];
