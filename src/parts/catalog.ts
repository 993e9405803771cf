/**
 * The parts catalog and the locations: create, read, list, update, and
 * delete a part that never held stock. Single rows through the ORM; lists
 * on keyset-paged SQL. Stock is never written here.
 */
import { randomUUID } from 'node:crypto';
import { LockMode } from '@mikro-orm/core';
import { binder, sql, sqlState, type TransactionRunner, type Tx } from '../db/transaction.js';
import type { CallContext } from '../shared/caller.js';
import { Decimal } from '../shared/decimal.js';
import { AlreadyExistsError, FailedPreconditionError } from '../shared/errors.js';
import type { IdempotencyStore } from '../shared/idempotency.js';
import { LocationEntity, PartEntity, type LocationRecord, type PartRecord } from './entities.js';
import { locationNotFound, partNotFound } from './errors.js';
import { partsMethod } from './methods.js';
import { COST_SCALE, type LocationFields, type LocationView, type Page, type PageRequest, type PartFields, type PartView } from './model.js';
import { decodePageToken, pageOf, type PageScope } from '../shared/page-token.js';
import { micros } from './rows.js';

const UNIQUE_VIOLATION = '23505';

// Names are unique per tenant: a taken one inserts nothing and returns no
// row, the ALREADY_EXISTS answer (see flushRenamed for updates).
const CREATE_PART = sql(
  'parts_create_part',
  `insert into parts (tenant_id, id, part_number, name, description, make, category, component, last_price, created_at, updated_at)
   values ($1, $2, $3, $4, $5, $6, $7, $8, $9::numeric, $10, $10)
   on conflict (tenant_id, part_number) do nothing
   returning id`,
);

const CREATE_LOCATION = sql(
  'parts_create_location',
  `insert into locations (tenant_id, id, site, name, description, created_at, updated_at)
   values ($1, $2, $3, $4, $5, $6, $6)
   on conflict (tenant_id, site, name) do nothing
   returning id`,
);
const FOREIGN_KEY_VIOLATION = '23503';

export interface PartFilter {
  /** Exact category, when not empty. */
  readonly category: string;
  /** Exact make, when not empty. */
  readonly make: string;
  /** Case-insensitive substring of part number or name, when not empty. */
  readonly text: string;
}

// A part with movements or stock keeps its history forever; one that only
// ever had empty balance rows (a count of zero) may go, with those rows.
const PART_HISTORY = sql(
  'parts_part_history',
  `select exists (select 1 from part_movements where tenant_id = $1 and part_id = $2) as has_movements,
          exists (select 1 from part_balances where tenant_id = $1 and part_id = $2 and qty_on_hand <> 0) as has_stock`,
);

const DELETE_EMPTY_BALANCES = sql(
  'parts_delete_empty_balances',
  `delete from part_balances b where b.tenant_id = $1 and b.part_id = $2 and b.qty_on_hand = 0
     and not exists (select 1 from part_batches pb where pb.tenant_id = $1 and pb.part_id = b.part_id and pb.location_id = b.location_id)`,
);

interface PartRow {
  id: string;
  part_number: string;
  name: string;
  description: string;
  make: string;
  category: string;
  component: string;
  last_price: string | null;
  created_us: string;
  updated_us: string;
}

interface LocationRow {
  id: string;
  site: string;
  name: string;
  description: string;
  created_us: string;
  updated_us: string;
}

// Raw queries return timestamptz as text; microseconds convert without guessing a format.
const TIMES = `${micros('created_at')} as created_us, ${micros('updated_at')} as updated_us`;

function dateOf(micros_text: string): Date {
  return new Date(Number(BigInt(micros_text) / 1000n));
}

function partRowView(row: PartRow): PartView {
  return partView({ ...row, created_at: dateOf(row.created_us), updated_at: dateOf(row.updated_us) });
}

function partView(record: Omit<PartRecord, 'tenant_id'> | (Omit<PartRow, 'created_us' | 'updated_us'> & { created_at: Date; updated_at: Date })): PartView {
  return {
    id: record.id,
    part_number: record.part_number,
    name: record.name,
    description: record.description,
    make: record.make,
    category: record.category,
    component: record.component,
    last_price: record.last_price === null || record.last_price === undefined ? null : new Decimal(record.last_price),
    created_at: record.created_at,
    updated_at: record.updated_at,
  };
}

function locationRowView(row: LocationRow): LocationView {
  return locationView({ ...row, created_at: dateOf(row.created_us), updated_at: dateOf(row.updated_us) });
}

function locationView(record: LocationView): LocationView {
  return {
    id: record.id,
    site: record.site,
    name: record.name,
    description: record.description,
    created_at: record.created_at,
    updated_at: record.updated_at,
  };
}

function price(value: PartFields['last_price']): string | null {
  return value === null ? null : value.toFixed(COST_SCALE);
}

export class Catalog {
  constructor(
    private readonly runner: TransactionRunner,
    private readonly idempotency: IdempotencyStore,
  ) {}

  createPart(context: CallContext, fields: PartFields, idempotency_key: string | undefined): Promise<PartView> {
    return this.runner.run(context, (tx) =>
      this.idempotency.run(tx, { method: partsMethod('CreatePart'), key: idempotency_key, input: fields }, async () => {
        const now = new Date();
        const record = { ...fields, id: randomUUID(), last_price: price(fields.last_price), created_at: now, updated_at: now };
        const [created] = await tx.query(CREATE_PART, [
          tx.caller.tenant_id, record.id, record.part_number, record.name, record.description, record.make,
          record.category, record.component, record.last_price, now,
        ]);
        if (created === undefined) throw new AlreadyExistsError('part', fields.part_number);
        return partView(record);
      }),
    );
  }

  getPart(context: CallContext, part_id: string): Promise<PartView> {
    return this.runner.run(context, async (tx) => partView(await this.findPart(tx, part_id)), { read_only: true });
  }

  updatePart(context: CallContext, part_id: string, changes: Partial<PartFields>, idempotency_key: string | undefined): Promise<PartView> {
    return this.runner.run(context, (tx) =>
      this.idempotency.run(tx, { method: partsMethod('UpdatePart'), key: idempotency_key, input: { part_id, changes } }, async () => {
        const record = await this.findPart(tx, part_id, 'part.id', LockMode.PESSIMISTIC_WRITE);
        const { last_price, ...text_fields } = changes;
        Object.assign(record, text_fields);
        if (last_price !== undefined) record.last_price = price(last_price);
        record.updated_at = new Date();
        await flushRenamed(tx, () => new AlreadyExistsError('part', record.part_number));
        return partView(record);
      }),
    );
  }

  /**
   * Removes a part with no stock and no movements. The part row is locked
   * first, so a receipt in flight either finishes before (and the part has
   * history) or fails after (its part is gone).
   */
  deletePart(context: CallContext, part_id: string, idempotency_key: string | undefined): Promise<{ part_id: string }> {
    return this.runner.run(context, (tx) =>
      this.idempotency.run(tx, { method: partsMethod('DeletePart'), key: idempotency_key, input: { part_id } }, async () => {
        const record = await this.findPart(tx, part_id, 'part_id', LockMode.PESSIMISTIC_WRITE);
        const [history] = await tx.query<{ has_movements: boolean; has_stock: boolean }>(PART_HISTORY, [tx.caller.tenant_id, part_id]);
        if (history.has_movements || history.has_stock) throw partHasHistory(record.part_number);
        await tx.query(DELETE_EMPTY_BALANCES, [tx.caller.tenant_id, part_id]);
        tx.em.remove(record);
        try {
          await tx.em.flush();
        } catch (error) {
          if (sqlState(error) === FOREIGN_KEY_VIOLATION) throw partHasHistory(record.part_number);
          throw error;
        }
        return { part_id };
      }),
    );
  }

  /** Parts ordered by part number; the page token carries the last part number. */
  listParts(context: CallContext, filter: PartFilter, page: PageRequest): Promise<Page<PartView>> {
    const scope: PageScope = { tenant_id: context.caller.tenant_id, list: 'parts.parts', filter };
    const after = decodePageToken(page.page_token, scope, ['text']);
    return this.runner.run(
      context,
      async (tx) => {
        const params: unknown[] = [tx.caller.tenant_id];
        const bind = binder(params);
        const where = ['tenant_id = $1'];
        if (filter.category !== '') where.push(`category = ${bind(filter.category)}`);
        if (filter.make !== '') where.push(`make = ${bind(filter.make)}`);
        if (filter.text !== '') {
          const pattern = bind(`%${filter.text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`);
          where.push(`(part_number ilike ${pattern} or name ilike ${pattern})`);
        }
        if (after) where.push(`part_number > ${bind(after[0])}`);
        const rows = await tx.queryDynamic<PartRow>(
          `select id, part_number, name, description, make, category, component, last_price, ${TIMES}
           from parts where ${where.join(' and ')} order by part_number limit ${bind(page.page_size + 1)}`,
          params,
        );
        return pageOf(rows, page.page_size, scope, (row) => [row.part_number], partRowView);
      },
      { read_only: true },
    );
  }

  createLocation(context: CallContext, fields: LocationFields, idempotency_key: string | undefined): Promise<LocationView> {
    return this.runner.run(context, (tx) =>
      this.idempotency.run(tx, { method: partsMethod('CreateLocation'), key: idempotency_key, input: fields }, async () => {
        const now = new Date();
        const record = { ...fields, id: randomUUID(), created_at: now, updated_at: now };
        const [created] = await tx.query(CREATE_LOCATION, [tx.caller.tenant_id, record.id, record.site, record.name, record.description, now]);
        if (created === undefined) throw new AlreadyExistsError('location', `${fields.site}/${fields.name}`);
        return locationView(record);
      }),
    );
  }

  getLocation(context: CallContext, location_id: string): Promise<LocationView> {
    return this.runner.run(context, async (tx) => locationView(await this.findLocation(tx, location_id, 'location_id')), { read_only: true });
  }

  updateLocation(context: CallContext, location_id: string, changes: Partial<LocationFields>, idempotency_key: string | undefined): Promise<LocationView> {
    return this.runner.run(context, (tx) =>
      this.idempotency.run(tx, { method: partsMethod('UpdateLocation'), key: idempotency_key, input: { location_id, changes } }, async () => {
        const record = await this.findLocation(tx, location_id, 'location.id', LockMode.PESSIMISTIC_WRITE);
        Object.assign(record, changes);
        record.updated_at = new Date();
        await flushRenamed(tx, () => new AlreadyExistsError('location', `${record.site}/${record.name}`));
        return locationView(record);
      }),
    );
  }

  /** Locations ordered by site, then name; the page token carries both. */
  listLocations(context: CallContext, site: string, page: PageRequest): Promise<Page<LocationView>> {
    const scope: PageScope = { tenant_id: context.caller.tenant_id, list: 'parts.locations', filter: { site } };
    const after = decodePageToken(page.page_token, scope, ['text', 'text']);
    return this.runner.run(
      context,
      async (tx) => {
        const params: unknown[] = [tx.caller.tenant_id];
        const bind = binder(params);
        const where = ['tenant_id = $1'];
        if (site !== '') where.push(`site = ${bind(site)}`);
        if (after) where.push(`(site, name) > (${bind(after[0])}, ${bind(after[1])})`);
        const rows = await tx.queryDynamic<LocationRow>(
          `select id, site, name, description, ${TIMES} from locations
           where ${where.join(' and ')} order by site, name limit ${bind(page.page_size + 1)}`,
          params,
        );
        return pageOf(rows, page.page_size, scope, (row) => [row.site, row.name], locationRowView);
      },
      { read_only: true },
    );
  }

  private async findPart(tx: Tx, part_id: string, field = 'part_id', lockMode?: LockMode): Promise<PartRecord> {
    const record = await tx.em.findOne(PartEntity, { tenant_id: tx.caller.tenant_id, id: part_id }, lockMode ? { lockMode } : {});
    if (!record) throw partNotFound(part_id, field);
    return record;
  }

  private async findLocation(tx: Tx, location_id: string, field: string, lockMode?: LockMode): Promise<LocationRecord> {
    const record = await tx.em.findOne(LocationEntity, { tenant_id: tx.caller.tenant_id, id: location_id }, lockMode ? { lockMode } : {});
    if (!record) throw locationNotFound(location_id, field);
    return record;
  }
}

function partHasHistory(part_number: string): FailedPreconditionError {
  return new FailedPreconditionError(
    `part ${part_number} has stock or movements; the ledger keeps its history, so it cannot be deleted`,
    'PART_HAS_HISTORY',
    { partNumber: part_number },
  );
}

/**
 * Writes a changed part or location. The update changes one row whose key
 * stays, so the one unique key it can collide with is its name's (part
 * number; site and name): a unique violation of this statement means the
 * name is taken. Decided by what the statement did, not by a constraint
 * name in the error, which a distributed engine (Citus names the shard)
 * does not carry through.
 */
async function flushRenamed(tx: Tx, taken: () => AlreadyExistsError): Promise<void> {
  try {
    await tx.em.flush();
  } catch (error) {
    if (sqlState(error) === UNIQUE_VIOLATION) throw taken();
    throw error;
  }
}
