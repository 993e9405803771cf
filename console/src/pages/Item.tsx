/** One inventory item: balances, reorder point, stock over time, movements, holds and the stock forms. */
import { useState } from 'react';
import { useQuery } from '@connectrpc/connect-query';
import { keepPreviousData } from '@tanstack/react-query';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { InventoryService, ReservationState } from '../../../gen/stockroom/inventory/v1/inventory_service_pb.js';
import { MovementType, type Item } from '../../../gen/stockroom/inventory/v1/resources_pb.js';
import { Allowed } from '../App.js';
import { LevelChart } from '../charts.js';
import { ActionForm, QueryProblem, wholeNumber, type FieldSpec } from '../forms.js';
import { Link, navigate, segment } from '../router.js';
import { inventoryClient } from '../transport.js';
import { Facts, formatTime, Loading, PagerControls, Section, usePager } from '../ui.js';

// The chart reads at most this many of the newest movements in one call.
const CHART_MOVEMENTS_MAX = 500;
const MOVEMENTS_PAGE_SIZE = 20;

const TYPE_OPTIONS = [
  { value: String(MovementType.UNSPECIFIED), label: 'All types' },
  ...[MovementType.INBOUND, MovementType.OUTBOUND, MovementType.ADJUST, MovementType.RETURN_IN, MovementType.DAMAGED].map((type) => ({ value: String(type), label: MovementType[type] })),
];

export function ItemPage({ productId }: { productId: string }) {
  const query = useQuery(InventoryService.method.getItem, { productId });
  const item = query.data?.item;
  return (
    <>
      <p className="crumbs">
        <Link to="/items">Items</Link> / {productId}
      </p>
      <h1>
        {item?.name ?? productId} <span className="muted">{productId}</span>
      </h1>
      <QueryProblem error={query.error} />
      {query.isPending ? <Loading what="item" /> : item ? <ItemBalances item={item} /> : null}
      {item && <StockOverTime productId={productId} />}
      {item && <ItemMovements productId={productId} />}
      {item && <ItemHolds productId={productId} />}
      {item && <StockForms productId={productId} />}
    </>
  );
}

function ItemBalances({ item }: { item: Item }) {
  return (
    <Section title="Stock">
      <Facts
        facts={[
          ['On hand', item.onHand.toString()],
          ['Reserved', item.reserved.toString()],
          ['Available', item.available.toString()],
          ['Reorder point', item.reorderPoint.toString()],
          ['Needs reorder', item.needsReorder ? 'yes' : 'no'],
          ['SKU', item.sku || '—'],
          ['Updated', formatTime(item.updateTime)],
        ]}
      />
      <Allowed role="admin">
        <ActionForm
          key={item.reorderPoint.toString()}
          title="Change reorder point"
          submitLabel="Save reorder point"
          keepValues
          fields={[{ name: 'reorder_point', label: 'Reorder point', kind: 'quantity', initial: item.reorderPoint.toString(), required: true }]}
          run={(values) =>
            inventoryClient.updateItem({
              item: { productId: item.productId, reorderPoint: wholeNumber(values, 'reorder_point') },
              updateMask: { paths: ['reorder_point'] },
            })
          }
          renderResult={(response) => <p>Reorder point is now {response.item?.reorderPoint.toString()}.</p>}
        />
      </Allowed>
    </Section>
  );
}

function StockOverTime({ productId }: { productId: string }) {
  const query = useQuery(InventoryService.method.listMovements, { productId, pageSize: CHART_MOVEMENTS_MAX });
  const points = (query.data?.movements ?? [])
    .map((movement) => ({ time_ms: movement.createTime ? timestampMs(movement.createTime) : 0, level: Number(movement.onHandAfter) }))
    .reverse();
  return (
    <Section title="On hand over time">
      <QueryProblem error={query.error} />
      {query.isPending ? <Loading what="ledger" /> : <LevelChart points={points} title={`On hand after each movement${query.data?.nextPageToken ? ` (newest ${CHART_MOVEMENTS_MAX})` : ''}`} />}
    </Section>
  );
}

function ItemMovements({ productId }: { productId: string }) {
  const pager = usePager();
  const [type, setType] = useState(String(MovementType.UNSPECIFIED));
  const [reference, setReference] = useState('');
  const query = useQuery(
    InventoryService.method.listMovements,
    { productId, type: Number(type), reference: reference.trim(), pageSize: MOVEMENTS_PAGE_SIZE, pageToken: pager.token },
    { placeholderData: keepPreviousData },
  );
  return (
    <Section title="Movements">
      <div className="filters">
        <label htmlFor="movement-type">Type</label>
        <select
          id="movement-type"
          value={type}
          onChange={(event) => {
            setType(event.target.value);
            pager.reset();
          }}
        >
          {TYPE_OPTIONS.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
        <label htmlFor="movement-reference">Reference</label>
        <input
          id="movement-reference"
          type="search"
          value={reference}
          onChange={(event) => {
            setReference(event.target.value);
            pager.reset();
          }}
        />
      </div>
      <QueryProblem error={query.error} />
      {query.isPending ? (
        <Loading what="movements" />
      ) : (
        <div className="table-wrap" aria-busy={query.isFetching}>
          <table data-table="movements">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Type</th>
                <th scope="col" className="num">Quantity</th>
                <th scope="col" className="num">On hand after</th>
                <th scope="col">Reference</th>
                <th scope="col">Notes</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {query.data?.movements.map((movement) => (
                <tr key={movement.id}>
                  <td>{formatTime(movement.createTime)}</td>
                  <td>{MovementType[movement.type]}</td>
                  <td className="num">{movement.quantity.toString()}</td>
                  <td className="num">{movement.onHandAfter.toString()}</td>
                  <td>{movement.reference ? <Link to={`/reservations/${segment(movement.reference)}`}>{movement.reference}</Link> : ''}</td>
                  <td>{movement.notes}</td>
                  <td>{movement.createdBy}</td>
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

const HOLDS_PAGE_SIZE = 20;

/** The order references that hold some of this item now, each linked to its reservation page. */
function ItemHolds({ productId }: { productId: string }) {
  const pager = usePager();
  const query = useQuery(
    InventoryService.method.listReservations,
    { productId, state: ReservationState.HELD, pageSize: HOLDS_PAGE_SIZE, pageToken: pager.token },
    { placeholderData: keepPreviousData },
  );
  const [reference, setReference] = useState('');
  return (
    <Section title="Open holds">
      <QueryProblem error={query.error} />
      {query.isPending ? (
        <Loading what="holds" />
      ) : (
        <div className="table-wrap" aria-busy={query.isFetching}>
          <table data-table="holds">
            <thead>
              <tr>
                <th scope="col">Order reference</th>
                <th scope="col" className="num">Held</th>
                <th scope="col" className="num">Committed</th>
                <th scope="col" className="num">Released</th>
                <th scope="col" className="num">Expired</th>
                <th scope="col">Expires</th>
              </tr>
            </thead>
            <tbody>
              {query.data?.lines.map((line) => (
                <tr key={line.reference} data-reference={line.reference}>
                  <td>
                    <Link to={`/reservations/${segment(line.reference)}`}>{line.reference}</Link>
                  </td>
                  <td className="num" data-col="held">{line.held.toString()}</td>
                  <td className="num">{line.committed.toString()}</td>
                  <td className="num">{line.released.toString()}</td>
                  <td className="num">{line.expired.toString()}</td>
                  <td>{line.expireTime ? formatTime(line.expireTime) : 'never'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {query.data?.lines.length === 0 && <p className="muted">Nothing is held.</p>}
        </div>
      )}
      <PagerControls pager={pager} nextPageToken={query.data?.nextPageToken} label="Holds" />
      <form
        className="filters"
        onSubmit={(event) => {
          event.preventDefault();
          if (reference.trim()) navigate(`/reservations/${segment(reference.trim())}`);
        }}
      >
        <label htmlFor="hold-reference">Order reference</label>
        <input id="hold-reference" value={reference} onChange={(event) => setReference(event.target.value)} />
        <button type="submit">Open reservation</button>
      </form>
    </Section>
  );
}

const REFERENCE_NOTES: FieldSpec[] = [
  { name: 'reference', label: 'Reference' },
  { name: 'notes', label: 'Notes', kind: 'textarea' },
];

function StockForms({ productId }: { productId: string }) {
  const movementResult = (response: { movement?: { quantity: bigint; onHandAfter: bigint } }) => (
    <p>
      Recorded {response.movement?.quantity.toString()}; on hand is now {response.movement?.onHandAfter.toString()}.
    </p>
  );
  return (
    <Allowed role="operator">
      <Section title="Record stock changes">
        <div className="form-grid">
          <ActionForm
            title="Inbound"
            submitLabel="Record inbound"
            fields={[{ name: 'quantity', label: 'Quantity received', kind: 'quantity', required: true }, ...REFERENCE_NOTES]}
            run={(values) => inventoryClient.recordInbound({ productId, quantity: wholeNumber(values, 'quantity'), reference: values.reference, notes: values.notes })}
            renderResult={movementResult}
          />
          <ActionForm
            title="Customer return"
            submitLabel="Record return"
            fields={[{ name: 'quantity', label: 'Quantity returned', kind: 'quantity', required: true }, ...REFERENCE_NOTES]}
            run={(values) => inventoryClient.recordReturn({ productId, quantity: wholeNumber(values, 'quantity'), reference: values.reference, notes: values.notes })}
            renderResult={movementResult}
          />
          <ActionForm
            title="Damage"
            submitLabel="Record damage"
            fields={[{ name: 'quantity', label: 'Quantity damaged', kind: 'quantity', required: true }, ...REFERENCE_NOTES]}
            run={(values) => inventoryClient.recordDamage({ productId, quantity: wholeNumber(values, 'quantity'), reference: values.reference, notes: values.notes })}
            renderResult={movementResult}
          />
          <Allowed role="admin">
            <ActionForm
              title="Adjustment"
              submitLabel="Adjust stock"
              fields={[
                { name: 'quantity_delta', label: 'Change (+/− units)', kind: 'quantity', required: true },
                { name: 'reason', label: 'Reason', required: true, hint: 'Required; kept in the ledger.' },
              ]}
              run={(values) => inventoryClient.adjustInventory({ productId, quantityDelta: wholeNumber(values, 'quantity_delta'), reason: values.reason })}
              renderResult={movementResult}
            />
          </Allowed>
        </div>
      </Section>
    </Allowed>
  );
}
