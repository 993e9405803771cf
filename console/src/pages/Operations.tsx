/**
 * Operations: both services' health checks and reconciles, with every
 * finding linked to the item, reservation, part, location or work order it
 * names. Checks read the whole tenant, so they run when asked.
 */
import { useState, type ReactNode } from 'react';
import { useQuery } from '@connectrpc/connect-query';
import { keepPreviousData } from '@tanstack/react-query';
import { InventoryService, type HealthExample as InventoryExample } from '../../../gen/stockroom/inventory/v1/inventory_service_pb.js';
import { PartsService, type HealthExample } from '../../../gen/stockroom/parts/v1/parts_service_pb.js';
import { QueryProblem } from '../forms.js';
import { useLocations } from '../parts-shared.js';
import { Link, segment } from '../router.js';
import { formatTime, Loading, PagerControls, Section, usePager } from '../ui.js';

const RECONCILE_PAGE_SIZE = 50;

export function OperationsPage() {
  return (
    <>
      <h1>Operations</h1>
      <InventoryHealth />
      <InventoryReconcile />
      <PartsHealth />
      <PartsReconcile />
    </>
  );
}

interface Finding<Example> {
  readonly count: bigint;
  readonly examples: readonly Example[];
}

/** One row per kind of fault: its count and linked examples. */
function FindingsTable<Example>({ findings, example }: { findings: readonly [string, Finding<Example> | undefined][]; example: (value: Example) => ReactNode }) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Check</th>
            <th scope="col" className="num">Count</th>
            <th scope="col">Examples</th>
          </tr>
        </thead>
        <tbody>
          {findings.map(([label, finding]) => (
            <tr key={label} className={finding && finding.count > 0n ? 'warn' : undefined}>
              <td>{label}</td>
              <td className="num">{finding?.count.toString() ?? '0'}</td>
              <td>
                <ul className="compact">
                  {finding?.examples.map((value, index) => <li key={index}>{example(value)}</li>)}
                </ul>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A check that runs on the first click and re-runs on the next ones. */
function RunButton({ runs, setRuns, refetch, busy, label }: { runs: number; setRuns: (runs: number) => void; refetch: () => unknown; busy: boolean; label: string }) {
  return (
    <button type="button" onClick={() => (runs > 0 ? void refetch() : setRuns(1))} disabled={busy}>
      {busy ? 'Running…' : label}
    </button>
  );
}

function HealthVerdict({ healthy, children }: { healthy: boolean; children: ReactNode }) {
  return (
    <p data-health={healthy ? 'healthy' : 'unhealthy'}>
      {healthy ? <span className="ok">Healthy</span> : <span className="bad">Problems found</span>} · {children}
    </p>
  );
}

function InventoryHealth() {
  const [runs, setRuns] = useState(0);
  const query = useQuery(InventoryService.method.checkInventoryHealth, {}, { enabled: runs > 0, staleTime: Infinity });
  const data = query.data;
  return (
    <Section title="Inventory health check" actions={<RunButton runs={runs} setRuns={setRuns} refetch={query.refetch} busy={query.isFetching} label="Run inventory health check" />}>
      <QueryProblem error={query.error} />
      {query.isFetching && <Loading what="inventory health check" />}
      {data && (
        <>
          <HealthVerdict healthy={data.healthy}>
            checked {data.itemsChecked.toString()} items at {formatTime(data.checkTime)}
          </HealthVerdict>
          <FindingsTable
            findings={[
              ['On hand ≠ ledger', data.onHandLedgerMismatches],
              ['Reserved ≠ holds', data.reservedHoldMismatches],
              ['Broken on-hand-after chain', data.onHandAfterBreaks],
              ['Committed ≠ outbound movements', data.commitLedgerMismatches],
            ]}
            example={(example: InventoryExample) => (
              <>
                {example.productId && <Link to={`/items/${segment(example.productId)}`}>{example.productId}</Link>}
                {example.reference && <> · <Link to={`/reservations/${segment(example.reference)}`}>{example.reference}</Link></>}
                {example.movementId && <> · movement {example.movementId}</>}
                {example.detail && <span className="muted"> — {example.detail}</span>}
              </>
            )}
          />
        </>
      )}
    </Section>
  );
}

function InventoryReconcile() {
  const pager = usePager();
  const [only_differences, setOnlyDifferences] = useState(true);
  const [runs, setRuns] = useState(0);
  const query = useQuery(
    InventoryService.method.reconcile,
    { onlyDifferences: only_differences, pageSize: RECONCILE_PAGE_SIZE, pageToken: pager.token },
    { enabled: runs > 0, placeholderData: keepPreviousData },
  );
  return (
    <Section title="Inventory reconcile" actions={<RunButton runs={runs} setRuns={setRuns} refetch={query.refetch} busy={query.isFetching} label="Run inventory reconcile" />}>
      <OnlyDifferences checked={only_differences} onChange={(checked) => (setOnlyDifferences(checked), pager.reset())} />
      <QueryProblem error={query.error} />
      {query.isFetching && <Loading what="inventory reconcile" />}
      {query.data && (
        <>
          <p>{query.data.inconsistentRows === 0 ? <span className="ok">Items, holds and the ledger agree.</span> : <span className="bad">{query.data.inconsistentRows} items disagree.</span>}</p>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Product</th>
                  <th scope="col" className="num">On hand</th>
                  <th scope="col" className="num">Ledger</th>
                  <th scope="col" className="num">Last after</th>
                  <th scope="col" className="num">Reserved</th>
                  <th scope="col" className="num">Held</th>
                  <th scope="col">Consistent</th>
                </tr>
              </thead>
              <tbody>
                {query.data.rows.map((row) => (
                  <tr key={row.itemId} className={row.consistent ? undefined : 'warn'}>
                    <td>
                      <Link to={`/items/${segment(row.productId)}`}>{row.productId}</Link>
                    </td>
                    <td className="num">{row.onHand.toString()}</td>
                    <td className="num">{row.ledgerOnHand.toString()}</td>
                    <td className="num">{row.lastOnHandAfter.toString()}</td>
                    <td className="num">{row.reserved.toString()}</td>
                    <td className="num">{row.held.toString()}</td>
                    <td>{row.consistent ? 'yes' : 'no'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <PagerControls pager={pager} nextPageToken={query.data.nextPageToken} label="Inventory reconcile" />
        </>
      )}
    </Section>
  );
}

function OnlyDifferences({ checked, onChange }: { checked: boolean; onChange: (checked: boolean) => void }) {
  return (
    <label className="check">
      <input type="checkbox" checked={checked} onChange={(event) => onChange(event.target.checked)} />
      Only rows that disagree
    </label>
  );
}

function PartsHealth() {
  const [runs, setRuns] = useState(0);
  const query = useQuery(PartsService.method.checkInventoryHealth, {}, { enabled: runs > 0, staleTime: Infinity });
  const data = query.data;
  return (
    <Section title="Parts health check" actions={<RunButton runs={runs} setRuns={setRuns} refetch={query.refetch} busy={query.isFetching} label="Run parts health check" />}>
      <QueryProblem error={query.error} />
      {query.isFetching && <Loading what="parts health check" />}
      {data && (
        <>
          <HealthVerdict healthy={data.healthy}>
            checked {data.fifoMovementsChecked.toString()} FIFO movements at {formatTime(data.checkTime)}
          </HealthVerdict>
          <FindingsTable
            findings={[
              ['Negative quantities', data.negativeQuantities],
              ['Orphaned movements', data.orphanedMovements],
              ['FIFO violations', data.fifoViolations],
              ['Balance ≠ layers', data.balanceBatchMismatches],
              ['Balance ≠ ledger', data.balanceLedgerMismatches],
              ['Layer ≠ its movements', data.batchLedgerMismatches],
            ]}
            example={(example: HealthExample) => <ExampleLinks example={example} />}
          />
        </>
      )}
    </Section>
  );
}

function ExampleLinks({ example }: { example: HealthExample }) {
  const { label } = useLocations();
  return (
    <>
      {example.partId && <Link to={`/parts/${segment(example.partId)}`}>part {example.partId.slice(0, 8)}</Link>}
      {example.locationId && <> · <Link to={`/locations#location-${example.locationId}`}>{label(example.locationId)}</Link></>}
      {example.workOrderId && <> · <Link to={`/work-orders/${segment(example.workOrderId)}`}>work order {example.workOrderId}</Link></>}
      {example.batchId && <> · layer <code>{example.batchId.slice(0, 8)}</code></>}
      {example.movementId && <> · movement {example.movementId}</>}
      {example.detail && <span className="muted"> — {example.detail}</span>}
    </>
  );
}

function PartsReconcile() {
  const pager = usePager();
  const [only_differences, setOnlyDifferences] = useState(true);
  const [runs, setRuns] = useState(0);
  const query = useQuery(
    PartsService.method.reconcile,
    { onlyDifferences: only_differences, pageSize: RECONCILE_PAGE_SIZE, pageToken: pager.token },
    { enabled: runs > 0, placeholderData: keepPreviousData },
  );
  return (
    <Section
      title="Parts reconcile"
      actions={<RunButton runs={runs} setRuns={setRuns} refetch={query.refetch} busy={query.isFetching} label="Run parts reconcile" />}
    >
      <OnlyDifferences checked={only_differences} onChange={(checked) => (setOnlyDifferences(checked), pager.reset())} />
      <QueryProblem error={query.error} />
      {query.isFetching && <Loading what="parts reconcile" />}
      {query.data && (
        <>
          <p>
            {query.data.inconsistentRows === 0 ? <span className="ok">Ledger, layers and balances agree.</span> : <span className="bad">{query.data.inconsistentRows} rows disagree.</span>}
          </p>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Part</th>
                  <th scope="col">Location</th>
                  <th scope="col" className="num">Ledger</th>
                  <th scope="col" className="num">Layers</th>
                  <th scope="col" className="num">Balance</th>
                  <th scope="col">Consistent</th>
                </tr>
              </thead>
              <tbody>
                {query.data.rows.map((row) => (
                  <tr key={`${row.partId}/${row.locationId}`} className={row.consistent ? undefined : 'warn'}>
                    <td>
                      <Link to={`/parts/${segment(row.partId)}`}>{row.partNumber}</Link>
                    </td>
                    <td>
                      <Link to={`/locations#location-${row.locationId}`}>
                        {row.site} / {row.locationName}
                      </Link>
                    </td>
                    <td className="num">{row.ledgerQty}</td>
                    <td className="num">{row.batchQty}</td>
                    <td className="num">{row.balanceQty}</td>
                    <td>{row.consistent ? 'yes' : `no (${row.batchDifferences.length} layers differ)`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <PagerControls pager={pager} nextPageToken={query.data.nextPageToken} label="Reconcile" />
        </>
      )}
    </Section>
  );
}
