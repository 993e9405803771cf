/** One part: catalog entry, stock per location, FIFO layers, stock over time, movements and every stock operation. */
import { useState } from 'react';
import { useQuery } from '@connectrpc/connect-query';
import { keepPreviousData } from '@tanstack/react-query';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { PartsService } from '../../../gen/stockroom/parts/v1/parts_service_pb.js';
import { MovementType, type Batch, type Part } from '../../../gen/stockroom/parts/v1/resources_pb.js';
import { Allowed } from '../App.js';
import { Bars, LevelChart, StackedBar } from '../charts.js';
import { ActionForm, QueryProblem } from '../forms.js';
import { InputError } from '../problems.js';
import { useLocations } from '../parts-shared.js';
import { Link, navigate, segment } from '../router.js';
import { partsClient } from '../transport.js';
import { Facts, formatDate, formatTime, Loading, PagerControls, Section, usePager } from '../ui.js';
import { PART_FIELDS, partFromValues } from './Parts.js';
import { PartOperations } from './PartOperations.js';

const ROWS_MAX = 1000;
const MOVEMENTS_PAGE_SIZE = 20;

export function PartPage({ partId }: { partId: string }) {
  const query = useQuery(PartsService.method.getPart, { partId });
  const part = query.data?.part;
  return (
    <>
      <p className="crumbs">
        <Link to="/parts">Parts</Link> / {part?.partNumber ?? partId}
      </p>
      <h1>
        {part?.name ?? 'Part'} <span className="muted">{part?.partNumber}</span>
      </h1>
      <QueryProblem error={query.error} />
      {query.isPending && <Loading what="part" />}
      {part && (
        <>
          <StockByLocation partId={partId} />
          <Layers partId={partId} />
          <PartStockOverTime partId={partId} />
          <PartMovements partId={partId} />
          <PartOperations partId={partId} />
          <PartCatalogEntry part={part} />
        </>
      )}
    </>
  );
}

function StockByLocation({ partId }: { partId: string }) {
  const locations = useQuery(PartsService.method.getLocationsOnHand, { partId, pageSize: ROWS_MAX });
  const values = useQuery(PartsService.method.getOnHand, { partId, pageSize: ROWS_MAX });
  const value_by_location = new Map((values.data?.onHand ?? []).map((row) => [row.locationId, row.value]));
  const rows = locations.data?.locations ?? [];
  return (
    <Section title="On hand by location">
      <QueryProblem error={locations.error ?? values.error} />
      {locations.isPending ? (
        <Loading what="stock" />
      ) : (
        <>
          <div className="table-wrap">
            <table data-table="on-hand">
              <thead>
                <tr>
                  <th scope="col">Location</th>
                  <th scope="col" className="num">On hand</th>
                  <th scope="col" className="num">Held for work orders</th>
                  <th scope="col" className="num">Available</th>
                  <th scope="col" className="num">Value</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.locationId} data-location={`${row.site} / ${row.name}`}>
                    <td>
                      {row.site} / {row.name}
                    </td>
                    <td className="num" data-col="qty">{row.qtyOnHand}</td>
                    <td className="num">{row.qtyReserved}</td>
                    <td className="num">{row.qtyAvailable}</td>
                    <td className="num">{value_by_location.get(row.locationId) ?? '0.0000000'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Bars title="On-hand value by location" bars={rows.map((row) => ({ label: `${row.site} / ${row.name}`, value: Number(value_by_location.get(row.locationId) ?? 0) }))} />
        </>
      )}
    </Section>
  );
}

function Layers({ partId }: { partId: string }) {
  const query = useQuery(PartsService.method.listBatches, { partId, pageSize: ROWS_MAX });
  const { label } = useLocations();
  const by_location = new Map<string, Batch[]>();
  for (const batch of query.data?.batches ?? []) by_location.set(batch.locationId, [...(by_location.get(batch.locationId) ?? []), batch]);
  return (
    <Section title="FIFO layers">
      <QueryProblem error={query.error} />
      {query.isPending && <Loading what="layers" />}
      {query.data && by_location.size === 0 && <p className="muted">No layer has stock.</p>}
      {[...by_location].map(([location_id, batches]) => (
        <div key={location_id} className="layer-group" data-layers-at={label(location_id)}>
          <h3>{label(location_id)}</h3>
          <StackedBar title="Quantity by unit cost, oldest layer first" unit="units" segments={batches.map((batch) => ({ label: `${batch.unitCost} (${formatDate(batch.receivedDate)})`, value: Number(batch.qtyOnHand) }))} />
          <div className="table-wrap">
            <table data-table="layers">
              <thead>
                <tr>
                  <th scope="col">Received</th>
                  <th scope="col" className="num">Qty</th>
                  <th scope="col" className="num">Unit cost</th>
                  <th scope="col" className="num">Value</th>
                  <th scope="col">Receipt</th>
                </tr>
              </thead>
              <tbody>
                {batches.map((batch) => (
                  <tr key={batch.id}>
                    <td>{formatDate(batch.receivedDate)}</td>
                    <td className="num">{batch.qtyOnHand}</td>
                    <td className="num">{batch.unitCost}</td>
                    <td className="num">{batch.value}</td>
                    <td>{batch.receiptId}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ))}
      {query.data?.nextPageToken && <p className="muted">Showing the first {ROWS_MAX} layers.</p>}
    </Section>
  );
}

/**
 * Walks the ledger back from today's balance: the newest movements and the
 * current quantity give every earlier level without reading all history.
 */
function PartStockOverTime({ partId }: { partId: string }) {
  const locations = useQuery(PartsService.method.getLocationsOnHand, { partId, pageSize: ROWS_MAX });
  const rows = locations.data?.locations ?? [];
  const [chosen, setChosen] = useState('');
  const location_id = chosen || rows.find((row) => Number(row.qtyOnHand) !== 0)?.locationId || rows[0]?.locationId || '';
  const movements = useQuery(PartsService.method.listMovements, { partId, locationId: location_id, pageSize: ROWS_MAX }, { enabled: location_id !== '' });
  let level = Number(rows.find((row) => row.locationId === location_id)?.qtyOnHand ?? 0);
  const points = [];
  for (const movement of movements.data?.movements ?? []) {
    points.push({ time_ms: movement.createTime ? timestampMs(movement.createTime) : 0, level });
    level -= Number(movement.qtyDelta);
  }
  points.reverse();
  return (
    <Section title="On hand over time">
      <div className="filters">
        <label htmlFor="chart-location">Location</label>
        <select id="chart-location" value={location_id} onChange={(event) => setChosen(event.target.value)}>
          {rows.map((row) => (
            <option key={row.locationId} value={row.locationId}>
              {row.site} / {row.name}
            </option>
          ))}
        </select>
      </div>
      <QueryProblem error={movements.error} />
      {movements.isPending && location_id ? <Loading what="ledger" /> : <LevelChart points={points} title="On hand at this location after each movement" />}
    </Section>
  );
}

const TYPE_OPTIONS = [MovementType.UNSPECIFIED, MovementType.RECEIVE, MovementType.ISSUE, MovementType.RETURN, MovementType.TRANSFER_OUT, MovementType.TRANSFER_IN, MovementType.ADJUSTMENT, MovementType.RTV_OUT, MovementType.COUNT_ADJUST];

function PartMovements({ partId }: { partId: string }) {
  const pager = usePager();
  const [type, setType] = useState(MovementType.UNSPECIFIED);
  const { label } = useLocations();
  const query = useQuery(
    PartsService.method.listMovements,
    { partId, types: type === MovementType.UNSPECIFIED ? [] : [type], pageSize: MOVEMENTS_PAGE_SIZE, pageToken: pager.token },
    { placeholderData: keepPreviousData },
  );
  return (
    <Section title="Movements">
      <div className="filters">
        <label htmlFor="part-movement-type">Type</label>
        <select
          id="part-movement-type"
          value={type}
          onChange={(event) => {
            setType(Number(event.target.value));
            pager.reset();
          }}
        >
          {TYPE_OPTIONS.map((value) => (
            <option key={value} value={value}>
              {value === MovementType.UNSPECIFIED ? 'All types' : MovementType[value]}
            </option>
          ))}
        </select>
      </div>
      <QueryProblem error={query.error} />
      {query.isPending ? (
        <Loading what="movements" />
      ) : (
        <div className="table-wrap" aria-busy={query.isFetching}>
          <table data-table="part-movements">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Type</th>
                <th scope="col">Location</th>
                <th scope="col" className="num">Qty</th>
                <th scope="col" className="num">Unit cost</th>
                <th scope="col" className="num">Cost</th>
                <th scope="col">Work order</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {query.data?.movements.map((movement) => (
                <tr key={movement.id}>
                  <td>{formatTime(movement.createTime)}</td>
                  <td>{MovementType[movement.type]}</td>
                  <td>{label(movement.locationId)}</td>
                  <td className="num">{movement.qtyDelta}</td>
                  <td className="num">{movement.unitCost}</td>
                  <td className="num">{movement.totalCost}</td>
                  <td>{movement.workOrderId ? <Link to={`/work-orders/${segment(movement.workOrderId)}`}>{movement.workOrderId}</Link> : ''}</td>
                  <td>{movement.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {query.data?.movements.length === 0 && <p className="muted">No movements match.</p>}
        </div>
      )}
      <PagerControls pager={pager} nextPageToken={query.data?.nextPageToken} label="Movements" />
    </Section>
  );
}

function PartCatalogEntry({ part }: { part: Part }) {
  return (
    <Section title="Catalog entry">
      <Facts
        facts={[
          ['Make', part.make || '—'],
          ['Category', part.category || '—'],
          ['Component', part.component || '—'],
          ['Last price', part.lastPrice || '—'],
          ['Updated', formatTime(part.updateTime)],
        ]}
      />
      {part.description && <p>{part.description}</p>}
      <Allowed role="admin">
        <div className="form-grid">
          <ActionForm
            key={part.updateTime?.seconds.toString()}
            title="Edit part"
            submitLabel="Save part"
            keepValues
            fields={PART_FIELDS.map((field) => ({ ...field, initial: String(part[camel(field.name) as keyof Part] ?? '') }))}
            run={(values) => partsClient.updatePart({ part: { id: part.id, ...partFromValues(values) }, updateMask: { paths: ['*'] } })}
            renderResult={() => <p>Saved.</p>}
          />
          <ActionForm
            title="Delete part"
            submitLabel="Delete part"
            fields={[{ name: 'confirm', label: `Type ${part.partNumber} to confirm`, required: true, hint: 'Only a part without stock history can be deleted.' }]}
            run={(values) => {
              if (values.confirm.trim() !== part.partNumber) throw new InputError('confirm', 'type the part number exactly');
              return partsClient.deletePart({ partId: part.id });
            }}
            onDone={() => navigate('/parts')}
          />
        </div>
      </Allowed>
    </Section>
  );
}

function camel(name: string): string {
  return name.replace(/_(\w)/g, (_, letter: string) => letter.toUpperCase());
}
