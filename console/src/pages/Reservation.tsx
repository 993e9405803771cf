/** One order reference: what it holds, committed and released, with commit and release. */
import { useState } from 'react';
import { keepPreviousData } from '@tanstack/react-query';
import { useQuery } from '@connectrpc/connect-query';
import { InventoryService, ReservationState } from '../../../gen/stockroom/inventory/v1/inventory_service_pb.js';
import type { HoldExpiry, Reservation } from '../../../gen/stockroom/inventory/v1/resources_pb.js';
import { Allowed } from '../App.js';
import { ActionForm, QueryProblem, wholeNumber, type Values } from '../forms.js';
import { Link, navigate, segment } from '../router.js';
import { inventoryClient } from '../transport.js';
import { formatTime, Loading, PagerControls, Section, usePager } from '../ui.js';

export function ReservationPage({ reference }: { reference: string }) {
  const [text, setText] = useState(reference);
  return (
    <>
      <h1>Reservation {reference && <span className="muted">{reference}</span>}</h1>
      <form
        className="filters"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          if (text.trim()) navigate(`/reservations/${segment(text.trim())}`);
        }}
      >
        <label htmlFor="reservation-reference">Order reference</label>
        <input id="reservation-reference" value={text} onChange={(event) => setText(event.target.value)} />
        <button type="submit">Open</button>
      </form>
      {reference ? <ReservationDetail reference={reference} /> : <ReservationList />}
    </>
  );
}

function ReservationDetail({ reference }: { reference: string }) {
  const query = useQuery(InventoryService.method.getReservation, { reference });
  const reservation = query.data?.reservation;
  return (
    <>
      <QueryProblem error={query.error} />
      {query.isPending ? <Loading what="reservation" /> : reservation ? <ReservationLines reservation={reservation} /> : null}
      {query.data && query.data.expiries.length > 0 && <Expiries expiries={query.data.expiries} />}
      {reservation && <ReservationActions reservation={reservation} />}
    </>
  );
}

function ReservationLines({ reservation }: { reservation: Reservation }) {
  return (
    <Section title="Lines">
      <div className="table-wrap">
        <table data-table="reservation-lines">
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col" className="num">Held</th>
              <th scope="col" className="num">Committed</th>
              <th scope="col" className="num">Released</th>
              <th scope="col" className="num">Expired</th>
              <th scope="col">Expires</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {reservation.lines.map((line) => (
              <tr key={line.productId} data-product={line.productId}>
                <td>
                  <Link to={`/items/${segment(line.productId)}`}>{line.productId}</Link>
                </td>
                <td className="num" data-col="held">{line.held.toString()}</td>
                <td className="num" data-col="committed">{line.committed.toString()}</td>
                <td className="num" data-col="released">{line.released.toString()}</td>
                <td className="num">{line.expired.toString()}</td>
                <td>{line.held > 0n ? (line.expireTime ? formatTime(line.expireTime) : 'never') : ''}</td>
                <td>{formatTime(line.updateTime)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Section>
  );
}

function ReservationActions({ reservation }: { reservation: Reservation }) {
  const open_lines = reservation.lines.filter((line) => line.held > 0n);
  if (open_lines.length === 0) return <p className="muted">Nothing is held under this reference.</p>;
  const products = open_lines.map((line) => ({ value: line.productId, label: `${line.productId} (${line.held} held)` }));
  const line = (values: Values) => [{ productId: values.product_id, quantity: wholeNumber(values, 'quantity') }];
  return (
    <Allowed role="operator">
      <Section title="Commit or release">
        <div className="form-grid">
          <ActionForm
            title="Commit (ship)"
            submitLabel="Commit"
            fields={[
              { name: 'product_id', label: 'Product', kind: 'select', options: products },
              { name: 'quantity', label: 'Quantity to ship', kind: 'quantity', required: true },
              { name: 'notes', label: 'Notes', kind: 'textarea' },
            ]}
            run={(values) => inventoryClient.commitOutbound({ reference: reservation.reference, items: line(values), notes: values.notes })}
            renderResult={(response) => <p>Shipped; {response.movements.length} movement(s) written.</p>}
          />
          <ActionForm
            title="Release"
            submitLabel="Release"
            fields={[
              { name: 'product_id', label: 'Product', kind: 'select', options: products },
              { name: 'quantity', label: 'Quantity to release', kind: 'quantity', required: true },
            ]}
            run={(values) => inventoryClient.release({ reference: reservation.reference, items: line(values) })}
            renderResult={() => <p>Released.</p>}
          />
          <ActionForm
            title="Extend"
            submitLabel="Extend holds"
            fields={[{ name: 'ttl', label: 'Hold for (seconds from now)', kind: 'quantity', required: true, hint: 'Moves the expire time of everything still held.' }]}
            run={(values) => inventoryClient.extendReservation({ reference: reservation.reference, ttl: { seconds: wholeNumber(values, 'ttl') } })}
            renderResult={(response) => <p>{response.lines.length} line(s) now expire later.</p>}
          />
        </div>
      </Section>
    </Allowed>
  );
}

/** Holds the sweeper released because they expired, newest first. */
function Expiries({ expiries }: { expiries: readonly HoldExpiry[] }) {
  return (
    <Section title="Expired holds">
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col" className="num">Units</th>
              <th scope="col">Expired at</th>
              <th scope="col">Released at</th>
            </tr>
          </thead>
          <tbody>
            {expiries.map((expiry, index) => (
              <tr key={index}>
                <td>
                  <Link to={`/items/${segment(expiry.productId)}`}>{expiry.productId}</Link>
                </td>
                <td className="num">{expiry.quantity.toString()}</td>
                <td>{formatTime(expiry.expireTime)}</td>
                <td>{formatTime(expiry.createTime)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Section>
  );
}

const LIST_PAGE_SIZE = 25;
const STATES = [ReservationState.HELD, ReservationState.COMMITTED, ReservationState.RELEASED, ReservationState.EXPIRED, ReservationState.UNSPECIFIED];

/** Reservation lines of every reference, by state (open holds first). */
function ReservationList() {
  const pager = usePager();
  const [state, setState] = useState(ReservationState.HELD);
  const query = useQuery(InventoryService.method.listReservations, { state, pageSize: LIST_PAGE_SIZE, pageToken: pager.token }, { placeholderData: keepPreviousData });
  return (
    <Section title="Reservation lines">
      <div className="filters">
        <label htmlFor="reservation-state">State</label>
        <select
          id="reservation-state"
          value={state}
          onChange={(event) => {
            setState(Number(event.target.value));
            pager.reset();
          }}
        >
          {STATES.map((value) => (
            <option key={value} value={value}>
              {value === ReservationState.UNSPECIFIED ? 'Every line' : ReservationState[value]}
            </option>
          ))}
        </select>
      </div>
      <QueryProblem error={query.error} />
      {query.isPending ? (
        <Loading what="reservations" />
      ) : (
        <div className="table-wrap" aria-busy={query.isFetching}>
          <table>
            <thead>
              <tr>
                <th scope="col">Reference</th>
                <th scope="col">Product</th>
                <th scope="col" className="num">Held</th>
                <th scope="col" className="num">Committed</th>
                <th scope="col" className="num">Released</th>
                <th scope="col" className="num">Expired</th>
                <th scope="col">Expires</th>
              </tr>
            </thead>
            <tbody>
              {query.data?.lines.map((line) => (
                <tr key={`${line.reference}/${line.itemId}`}>
                  <td>
                    <Link to={`/reservations/${segment(line.reference)}`}>{line.reference}</Link>
                  </td>
                  <td>
                    <Link to={`/items/${segment(line.productId)}`}>{line.productId}</Link>
                  </td>
                  <td className="num">{line.held.toString()}</td>
                  <td className="num">{line.committed.toString()}</td>
                  <td className="num">{line.released.toString()}</td>
                  <td className="num">{line.expired.toString()}</td>
                  <td>{line.held > 0n ? (line.expireTime ? formatTime(line.expireTime) : 'never') : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {query.data?.lines.length === 0 && <p className="muted">No lines in this state.</p>}
        </div>
      )}
      <PagerControls pager={pager} nextPageToken={query.data?.nextPageToken} label="Reservation lines" />
    </Section>
  );
}
