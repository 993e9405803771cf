/** A work order's parts: every line (layer, quantity, cost) and the total. */
import { useState } from 'react';
import { useQuery } from '@connectrpc/connect-query';
import { keepPreviousData } from '@tanstack/react-query';
import { PartsService } from '../../../gen/stockroom/parts/v1/parts_service_pb.js';
import { QueryProblem } from '../forms.js';
import { useLocations } from '../parts-shared.js';
import { Link, navigate, segment } from '../router.js';
import { Facts, formatTime, Loading, PagerControls, Section, usePager } from '../ui.js';

const PAGE_SIZE = 50;

export function WorkOrderPage({ workOrderId }: { workOrderId: string }) {
  const [text, setText] = useState(workOrderId);
  return (
    <>
      <h1>Work order {workOrderId && <span className="muted">{workOrderId}</span>}</h1>
      <form
        className="filters"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          if (text.trim()) navigate(`/work-orders/${segment(text.trim())}`);
        }}
      >
        <label htmlFor="work-order-id">Work order id</label>
        <input id="work-order-id" value={text} onChange={(event) => setText(event.target.value)} />
        <button type="submit">Open</button>
      </form>
      {workOrderId && <WorkOrderDetail workOrderId={workOrderId} />}
    </>
  );
}

function WorkOrderDetail({ workOrderId }: { workOrderId: string }) {
  const pager = usePager();
  const query = useQuery(PartsService.method.getWorkOrderParts, { workOrderId, pageSize: PAGE_SIZE, pageToken: pager.token }, { placeholderData: keepPreviousData });
  const { label } = useLocations();
  const data = query.data;
  return (
    <>
      <QueryProblem error={query.error} />
      {query.isPending && <Loading what="work order" />}
      {data && (
        <>
          <Section title="Total">
            <Facts
              facts={[
                ['Parts cost', data.totalPartsCost],
                ['Lines', data.lineCount.toString()],
              ]}
            />
            <div className="table-wrap">
              <table data-table="work-order-parts">
                <caption>Net per part and location</caption>
                <thead>
                  <tr>
                    <th scope="col">Part</th>
                    <th scope="col">Location</th>
                    <th scope="col" className="num">Net qty</th>
                    <th scope="col" className="num">Net cost</th>
                  </tr>
                </thead>
                <tbody>
                  {data.parts.map((part) => (
                    <tr key={`${part.partId}/${part.locationId}`}>
                      <td>
                        <Link to={`/parts/${segment(part.partId)}`}>{part.partNumber}</Link>
                      </td>
                      <td>{label(part.locationId)}</td>
                      <td className="num">{part.netQty}</td>
                      <td className="num">{part.netCost}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Section>
          <Section title="Lines">
            <div className="table-wrap" aria-busy={query.isFetching}>
              <table data-table="work-order-lines">
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Part</th>
                    <th scope="col">Location</th>
                    <th scope="col">Layer</th>
                    <th scope="col" className="num">Qty</th>
                    <th scope="col" className="num">Unit cost</th>
                    <th scope="col" className="num">Cost</th>
                  </tr>
                </thead>
                <tbody>
                  {data.lines.map((line) => (
                    <tr key={line.id}>
                      <td>{formatTime(line.createTime)}</td>
                      <td>
                        <Link to={`/parts/${segment(line.partId)}`}>{line.partNumber}</Link>
                      </td>
                      <td>{label(line.locationId)}</td>
                      <td>
                        <code title={line.batchId}>{line.batchId.slice(0, 8)}</code>
                      </td>
                      <td className="num">{line.qtyUsed}</td>
                      <td className="num">{line.unitCostSnapshot}</td>
                      <td className="num">{line.totalCost}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <PagerControls pager={pager} nextPageToken={data.nextPageToken} label="Work-order lines" />
          </Section>
        </>
      )}
    </>
  );
}
