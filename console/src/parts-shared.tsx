/** What the parts pages share: the tenant's locations for pickers and labels, and the allocations table. */
import { useQuery } from '@connectrpc/connect-query';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { PartsService } from '../../gen/stockroom/parts/v1/parts_service_pb.js';
import type { Allocation, Location } from '../../gen/stockroom/parts/v1/resources_pb.js';
import { formatDate } from './ui.js';

// One page of the server's largest size; a store with more locations types an id.
const LOCATIONS_MAX = 1000;

export function useLocations(): { locations: readonly Location[]; label: (id: string) => string; options: { value: string; label: string }[] } {
  const query = useQuery(PartsService.method.listLocations, { pageSize: LOCATIONS_MAX });
  const locations = query.data?.locations ?? [];
  const by_id = new Map(locations.map((location) => [location.id, location]));
  return {
    locations,
    label: (id) => {
      const location = by_id.get(id);
      return location ? `${location.site} / ${location.name}` : id;
    },
    options: locations.map((location) => ({ value: location.id, label: `${location.site} / ${location.name}` })),
  };
}

/** The layers an operation took from or put into, oldest first as the server returns them. */
export function AllocationTable({ allocations, message }: { allocations: readonly Allocation[]; message?: string }) {
  return (
    <div className="table-wrap">
      {message && <p>{message}</p>}
      <table data-table="allocations">
        <caption>Allocations</caption>
        <thead>
          <tr>
            <th scope="col">Layer</th>
            <th scope="col">Received</th>
            <th scope="col" className="num">Qty</th>
            <th scope="col" className="num">Unit cost</th>
            <th scope="col" className="num">Cost</th>
          </tr>
        </thead>
        <tbody>
          {allocations.map((allocation, index) => (
            <tr key={index}>
              <td>
                <code title={allocation.batchId}>{allocation.batchId.slice(0, 8)}</code>
                {allocation.destinationBatchId ? <span className="muted"> → {allocation.destinationBatchId.slice(0, 8)}</span> : null}
              </td>
              <td>{formatDate(allocation.receivedDate)}</td>
              <td className="num">{allocation.qty}</td>
              <td className="num">{allocation.unitCost}</td>
              <td className="num">{allocation.totalCost}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** `YYYY-MM-DD` from a date input as midnight UTC, or undefined for "today" (the server's clock). */
export function dateInput(text: string) {
  return text ? timestampFromDate(new Date(`${text}T00:00:00Z`)) : undefined;
}
