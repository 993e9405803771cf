/** Locations: list by site, create, and the value of everything on hand per location. */
import { useState } from 'react';
import { useQuery } from '@connectrpc/connect-query';
import { keepPreviousData } from '@tanstack/react-query';
import { PartsService } from '../../../gen/stockroom/parts/v1/parts_service_pb.js';
import { Allowed } from '../App.js';
import { Bars } from '../charts.js';
import { ActionForm, QueryProblem } from '../forms.js';
import { Link, segment } from '../router.js';
import { partsClient } from '../transport.js';
import { formatTime, Loading, PagerControls, Section, usePager } from '../ui.js';

const PAGE_SIZE = 25;
const ON_HAND_ROWS_MAX = 1000;

export function LocationsPage() {
  const pager = usePager();
  const [site, setSite] = useState('');
  const query = useQuery(PartsService.method.listLocations, { pageSize: PAGE_SIZE, pageToken: pager.token, site: site.trim() }, { placeholderData: keepPreviousData });
  return (
    <>
      <h1>Locations</h1>
      <Section title="Locations">
        <div className="filters" role="search">
          <label htmlFor="location-site">Site</label>
          <input
            id="location-site"
            value={site}
            onChange={(event) => {
              setSite(event.target.value);
              pager.reset();
            }}
          />
        </div>
        <QueryProblem error={query.error} />
        {query.isPending ? (
          <Loading what="locations" />
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Site</th>
                  <th scope="col">Name</th>
                  <th scope="col">Description</th>
                  <th scope="col">Id</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {query.data?.locations.map((location) => (
                  <tr key={location.id} id={`location-${location.id}`}>
                    <td>{location.site}</td>
                    <td>{location.name}</td>
                    <td>{location.description}</td>
                    <td>
                      <code>{location.id}</code>
                    </td>
                    <td>{formatTime(location.createTime)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <PagerControls pager={pager} nextPageToken={query.data?.nextPageToken} label="Locations" />
      </Section>
      <ValueByLocation />
      <Allowed role="admin">
        <Section title="New location">
          <ActionForm
            title="Create location"
            submitLabel="Create location"
            fields={[
              { name: 'site', label: 'Site', required: true },
              { name: 'name', label: 'Name', required: true },
              { name: 'description', label: 'Description' },
            ]}
            run={(values) => partsClient.createLocation({ location: { site: values.site, name: values.name, description: values.description } })}
            renderResult={(response) => <p>Created {response.location?.name}.</p>}
          />
        </Section>
      </Allowed>
    </>
  );
}

/** Sums the value of every part per location from GetOnHand (one page of up to 1,000 part-locations). */
function ValueByLocation() {
  const query = useQuery(PartsService.method.getOnHand, { pageSize: ON_HAND_ROWS_MAX });
  const totals = new Map<string, { label: string; value: number; parts: { id: string; number: string; qty: string }[] }>();
  for (const row of query.data?.onHand ?? []) {
    const entry = totals.get(row.locationId) ?? { label: `${row.site} / ${row.locationName}`, value: 0, parts: [] };
    entry.value += Number(row.value);
    if (Number(row.qtyOnHand) !== 0) entry.parts.push({ id: row.partId, number: row.partNumber, qty: row.qtyOnHand });
    totals.set(row.locationId, entry);
  }
  return (
    <Section title="On-hand value by location">
      <QueryProblem error={query.error} />
      {query.isPending ? (
        <Loading what="stock values" />
      ) : (
        <>
          <Bars title={`Value of stock on hand per location${query.data?.nextPageToken ? ` (first ${ON_HAND_ROWS_MAX} part-locations)` : ''}`} bars={[...totals.values()].map((entry) => ({ label: entry.label, value: entry.value }))} />
          <ul className="compact">
            {[...totals.entries()].map(([id, entry]) => (
              <li key={id}>
                <strong>{entry.label}</strong>:{' '}
                {entry.parts.map((part, index) => (
                  <span key={part.id}>
                    {index > 0 ? ', ' : ''}
                    <Link to={`/parts/${segment(part.id)}`}>{part.number}</Link> {part.qty}
                  </span>
                ))}
              </li>
            ))}
          </ul>
        </>
      )}
    </Section>
  );
}
