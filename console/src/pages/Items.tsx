/** Inventory items: search by product id, page, and show only those that need reordering. */
import { useState } from 'react';
import { useQuery } from '@connectrpc/connect-query';
import { keepPreviousData } from '@tanstack/react-query';
import { InventoryService } from '../../../gen/stockroom/inventory/v1/inventory_service_pb.js';
import { Allowed } from '../App.js';
import { ActionForm, QueryProblem, wholeNumber } from '../forms.js';
import { Link, navigate, segment } from '../router.js';
import { inventoryClient } from '../transport.js';
import { Loading, PagerControls, Section, usePager } from '../ui.js';

const PAGE_SIZE = 25;

export function ItemsPage() {
  const pager = usePager();
  const [search, setSearch] = useState('');
  const [reorder_only, setReorderOnly] = useState(false);
  const query = useQuery(
    InventoryService.method.listItems,
    {
      pageSize: PAGE_SIZE,
      pageToken: pager.token,
      needsReorder: reorder_only ? true : undefined,
      productIds: search.trim() ? [search.trim()] : [],
    },
    { placeholderData: keepPreviousData },
  );
  return (
    <>
      <h1>Inventory items</h1>
      <Section title="Items">
        <div className="filters" role="search">
          <label htmlFor="item-search">Product id</label>
          <input
            id="item-search"
            type="search"
            value={search}
            placeholder="exact product id"
            onChange={(event) => {
              setSearch(event.target.value);
              pager.reset();
            }}
          />
          <label className="check">
            <input
              type="checkbox"
              checked={reorder_only}
              onChange={(event) => {
                setReorderOnly(event.target.checked);
                pager.reset();
              }}
            />
            Needs reorder only
          </label>
        </div>
        <QueryProblem error={query.error} />
        {query.isPending ? (
          <Loading what="items" />
        ) : (
          <div className="table-wrap" aria-busy={query.isFetching}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Product</th>
                  <th scope="col">SKU</th>
                  <th scope="col">Name</th>
                  <th scope="col" className="num">On hand</th>
                  <th scope="col" className="num">Reserved</th>
                  <th scope="col" className="num">Available</th>
                  <th scope="col" className="num">Reorder at</th>
                </tr>
              </thead>
              <tbody>
                {query.data?.items.map((item) => (
                  <tr key={item.id} className={item.needsReorder ? 'warn' : undefined}>
                    <td>
                      <Link to={`/items/${segment(item.productId)}`}>{item.productId}</Link>
                    </td>
                    <td>{item.sku}</td>
                    <td>{item.name}</td>
                    <td className="num">{item.onHand.toString()}</td>
                    <td className="num">{item.reserved.toString()}</td>
                    <td className="num">{item.available.toString()}</td>
                    <td className="num">
                      {item.reorderPoint.toString()}
                      {item.needsReorder ? <span className="badge">reorder</span> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {query.data?.items.length === 0 && <p className="muted">No items match.</p>}
          </div>
        )}
        <PagerControls pager={pager} nextPageToken={query.data?.nextPageToken} label="Items" />
      </Section>
      <Allowed role="admin">
        <Section title="New item">
          <ActionForm
            title="Create item"
            submitLabel="Create item"
            fields={[
              { name: 'product_id', label: 'Product id', required: true },
              { name: 'sku', label: 'SKU' },
              { name: 'name', label: 'Name', required: true },
              { name: 'reorder_point', label: 'Reorder point', kind: 'quantity', initial: '0' },
            ]}
            run={(values) =>
              inventoryClient.createItem({
                productId: values.product_id.trim(),
                sku: values.sku,
                name: values.name,
                reorderPoint: wholeNumber(values, 'reorder_point'),
              })
            }
            onDone={(response) => navigate(`/items/${segment(response.item!.productId)}`)}
          />
        </Section>
      </Allowed>
    </>
  );
}
