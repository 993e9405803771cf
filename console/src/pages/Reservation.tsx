/** One order reference: what it holds, committed and released, with commit and release. */
import { useState } from 'react';
import { useQuery } from '@connectrpc/connect-query';
import { InventoryService } from '../../../gen/stockroom/inventory/v1/inventory_service_pb.js';
import type { Reservation } from '../../../gen/stockroom/inventory/v1/resources_pb.js';
import { Allowed } from '../App.js';
import { ActionForm, QueryProblem, wholeNumber, type Values } from '../forms.js';
import { Link, navigate, segment } from '../router.js';
import { inventoryClient } from '../transport.js';
import { formatTime, Loading, Section } from '../ui.js';

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
      {reference && <ReservationDetail reference={reference} />}
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
        </div>
      </Section>
    </Allowed>
  );
}
