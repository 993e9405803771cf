/** The parts catalog: search, page, create. */
import { useState } from 'react';
import { useQuery } from '@connectrpc/connect-query';
import { keepPreviousData } from '@tanstack/react-query';
import { PartsService } from '../../../gen/stockroom/parts/v1/parts_service_pb.js';
import { Allowed } from '../App.js';
import { ActionForm, QueryProblem, type FieldSpec, type Values } from '../forms.js';
import { Link, navigate, segment } from '../router.js';
import { partsClient } from '../transport.js';
import { Loading, PagerControls, Section, usePager } from '../ui.js';

const PAGE_SIZE = 25;

/** The editable fields of a part, shared by create and edit. */
export const PART_FIELDS: readonly FieldSpec[] = [
  { name: 'part_number', label: 'Part number', required: true },
  { name: 'name', label: 'Name', required: true },
  { name: 'description', label: 'Description', kind: 'textarea' },
  { name: 'make', label: 'Make' },
  { name: 'category', label: 'Category' },
  { name: 'component', label: 'Component' },
  { name: 'last_price', label: 'Last price', kind: 'quantity', hint: 'Unit cost used when stock is added without one.' },
];

export function partFromValues(values: Values) {
  return {
    partNumber: values.part_number,
    name: values.name,
    description: values.description,
    make: values.make,
    category: values.category,
    component: values.component,
    lastPrice: values.last_price.trim(),
  };
}

export function PartsPage() {
  const pager = usePager();
  const [text, setText] = useState('');
  const [category, setCategory] = useState('');
  const query = useQuery(PartsService.method.listParts, { pageSize: PAGE_SIZE, pageToken: pager.token, text: text.trim(), category: category.trim() }, { placeholderData: keepPreviousData });
  return (
    <>
      <h1>Parts catalog</h1>
      <Section title="Parts">
        <div className="filters" role="search">
          <label htmlFor="part-search">Search</label>
          <input
            id="part-search"
            type="search"
            value={text}
            placeholder="number, name or description"
            onChange={(event) => {
              setText(event.target.value);
              pager.reset();
            }}
          />
          <label htmlFor="part-category">Category</label>
          <input
            id="part-category"
            value={category}
            onChange={(event) => {
              setCategory(event.target.value);
              pager.reset();
            }}
          />
        </div>
        <QueryProblem error={query.error} />
        {query.isPending ? (
          <Loading what="parts" />
        ) : (
          <div className="table-wrap" aria-busy={query.isFetching}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Part number</th>
                  <th scope="col">Name</th>
                  <th scope="col">Make</th>
                  <th scope="col">Category</th>
                  <th scope="col" className="num">Last price</th>
                </tr>
              </thead>
              <tbody>
                {query.data?.parts.map((part) => (
                  <tr key={part.id}>
                    <td>
                      <Link to={`/parts/${segment(part.id)}`}>{part.partNumber}</Link>
                    </td>
                    <td>{part.name}</td>
                    <td>{part.make}</td>
                    <td>{part.category}</td>
                    <td className="num">{part.lastPrice}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {query.data?.parts.length === 0 && <p className="muted">No parts match.</p>}
          </div>
        )}
        <PagerControls pager={pager} nextPageToken={query.data?.nextPageToken} label="Parts" />
      </Section>
      <Allowed role="admin">
        <Section title="New part">
          <ActionForm
            title="Create part"
            submitLabel="Create part"
            fields={PART_FIELDS}
            run={(values) => partsClient.createPart({ part: partFromValues(values) })}
            onDone={(response) => navigate(`/parts/${segment(response.part!.id)}`)}
          />
        </Section>
      </Allowed>
    </>
  );
}
