/** Every stock operation on one part, each showing the layers (allocations) the server chose. */
import { Allowed } from '../App.js';
import { ActionForm, wholeNumber, type FieldSpec } from '../forms.js';
import { IdLabels } from '../problems.js';
import { AllocationTable, dateInput, useLocations } from '../parts-shared.js';
import { Link } from '../router.js';
import { partsClient } from '../transport.js';
import { Section } from '../ui.js';

interface StockResult {
  readonly allocations: Parameters<typeof AllocationTable>[0]['allocations'];
  readonly message: string;
  readonly totalCost?: string;
}

function result(response: StockResult, after: string) {
  return (
    <>
      <AllocationTable allocations={response.allocations} message={response.message} />
      <p>
        {response.totalCost ? <>Cost {response.totalCost}. </> : null}
        {after}
      </p>
    </>
  );
}

export function PartOperations({ partId }: { partId: string }) {
  const { options, locations, label } = useLocations();
  if (locations.length === 0) {
    return (
      <Section title="Stock operations">
        <p className="muted">
          No locations yet. <Link to="/locations">Create one</Link> first.
        </p>
      </Section>
    );
  }
  const location: FieldSpec = { name: 'location_id', label: 'Location', kind: 'select', options };
  const quantity = (label: string): FieldSpec => ({ name: 'qty', label, kind: 'quantity', required: true });
  const work_order: FieldSpec = { name: 'work_order_id', label: 'Work order', required: true };
  return (
    <Allowed role="operator">
      <IdLabels.Provider value={label}>
      <Section title="Stock operations">
        <div className="form-grid" data-forms="part-operations">
          <ActionForm
            title="Receive"
            submitLabel="Receive"
            fields={[location, quantity('Quantity received'), { name: 'unit_cost', label: 'Unit cost', kind: 'quantity', hint: 'Empty: the part’s last price.' }, { name: 'received_date', label: 'Received date', kind: 'date', hint: 'Empty: now.' }, { name: 'receipt_id', label: 'Receipt id' }]}
            run={(v) => partsClient.receiveParts({ partId, locationId: v.location_id, qty: v.qty.trim(), unitCost: v.unit_cost.trim(), receivedDate: dateInput(v.received_date), receiptId: v.receipt_id })}
            renderResult={(r) => result(r, `On hand here: ${r.qtyOnHandAfter}.`)}
          />
          <ActionForm
            title="Issue to work order"
            submitLabel="Issue"
            fields={[work_order, location, quantity('Quantity to issue')]}
            run={(v) => partsClient.issueToWorkOrder({ partId, workOrderId: v.work_order_id.trim(), locationId: v.location_id, qty: v.qty.trim() })}
            renderResult={(r) => result(r, `On hand here: ${r.qtyOnHandAfter}.`)}
          />
          <ActionForm
            title="Hold for work order"
            submitLabel="Hold"
            fields={[work_order, location, quantity('Quantity to hold'), { name: 'ttl', label: 'Hold for (seconds, optional)', kind: 'quantity' }]}
            run={(v) =>
              partsClient.reservePartsForWorkOrder({ partId, workOrderId: v.work_order_id.trim(), locationId: v.location_id, qty: v.qty.trim(), ttl: v.ttl.trim() ? { seconds: wholeNumber(v, 'ttl') } : undefined })
            }
            renderResult={(r) => <p>{r.message}. Available here: {r.qtyAvailable}.</p>}
          />
          <ActionForm
            title="Release work-order hold"
            submitLabel="Release hold"
            fields={[work_order, location, { name: 'qty', label: 'Quantity (empty: all)', kind: 'quantity' }]}
            run={(v) => partsClient.releaseWorkOrderReservation({ partId, workOrderId: v.work_order_id.trim(), locationId: v.location_id, qty: v.qty.trim() })}
            renderResult={(r) => <p>Released {r.qtyReleased}.</p>}
          />
          <ActionForm
            title="Return from work order"
            submitLabel="Return"
            fields={[work_order, location, quantity('Quantity returned')]}
            run={(v) => partsClient.returnFromWorkOrder({ partId, workOrderId: v.work_order_id.trim(), locationId: v.location_id, qty: v.qty.trim() })}
            renderResult={(r) => result(r, `On hand here: ${r.qtyOnHandAfter}.`)}
          />
          <ActionForm
            title="Transfer"
            submitLabel="Transfer"
            fields={[
              { ...location, name: 'from_location_id', label: 'From' },
              { ...location, name: 'to_location_id', label: 'To', initial: options[1]?.value ?? options[0]?.value },
              quantity('Quantity to move'),
            ]}
            run={(v) => partsClient.transferBetweenLocations({ partId, fromLocationId: v.from_location_id, toLocationId: v.to_location_id, qty: v.qty.trim() })}
            renderResult={(r) => result(r, `On hand at source: ${r.fromQtyOnHandAfter}; at destination: ${r.toQtyOnHandAfter}.`)}
          />
          <Allowed role="admin">
            <ActionForm
              title="Adjustment"
              submitLabel="Adjust"
              fields={[location, { name: 'qty_delta', label: 'Change (+/−)', kind: 'quantity', required: true }, { name: 'reason', label: 'Reason', required: true }, { name: 'unit_cost', label: 'Unit cost (for added stock)', kind: 'quantity' }]}
              run={(v) => partsClient.adjustStock({ partId, locationId: v.location_id, qtyDelta: v.qty_delta.trim(), reason: v.reason, unitCost: v.unit_cost.trim() })}
              renderResult={(r) => result(r, `On hand here: ${r.qtyOnHandAfter}.`)}
            />
            <ActionForm
              title="Cycle count"
              submitLabel="Record count"
              fields={[location, { name: 'counted_qty', label: 'Counted quantity', kind: 'quantity', required: true }, { name: 'reason', label: 'Reason' }, { name: 'unit_cost', label: 'Unit cost (if more is found)', kind: 'quantity' }]}
              run={(v) => partsClient.recordCount({ partId, locationId: v.location_id, countedQty: v.counted_qty.trim(), reason: v.reason, unitCost: v.unit_cost.trim() })}
              renderResult={(r) => result(r, `Was ${r.previousQty}, changed by ${r.qtyDelta}; on hand here: ${r.qtyOnHandAfter}.`)}
            />
            <ActionForm
              title="Return to vendor"
              submitLabel="Return to vendor"
              fields={[location, quantity('Quantity returned'), { name: 'batch_id', label: 'Layer id (optional)' }, { name: 'receipt_id', label: 'Receipt id (optional)' }, { name: 'reason', label: 'Reason' }]}
              run={(v) => partsClient.returnToVendor({ partId, locationId: v.location_id, qty: v.qty.trim(), batchId: v.batch_id.trim(), receiptId: v.receipt_id.trim(), reason: v.reason })}
              renderResult={(r) => result(r, `On hand here: ${r.qtyOnHandAfter}.`)}
            />
          </Allowed>
        </div>
      </Section>
      </IdLabels.Provider>
    </Allowed>
  );
}
