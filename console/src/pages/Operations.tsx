/**
 * Operations: the parts service's health check and reconcile, with every
 * finding linked to the part, location or work order it names.
 */
import { useState } from 'react';
import { useQuery } from '@connectrpc/connect-query';
import { keepPreviousData } from '@tanstack/react-query';
import { PartsService, type HealthExample, type HealthFinding } from '../../../gen/stockroom/parts/v1/parts_service_pb.js';
import { QueryProblem } from '../forms.js';
import { useLocations } from '../parts-shared.js';
import { Link, segment } from '../router.js';
import { formatTime, Loading, PagerControls, Section, usePager } from '../ui.js';

const RECONCILE_PAGE_SIZE = 50;

export function OperationsPage() {
  return (
    <>
      <h1>Operations</h1>
      <PartsHealth />
      <PartsReconcile />
    </>
  );
}

const FINDINGS: readonly [keyof PartsFindings, string][] = [
  ['negativeQuantities', 'Negative quantities'],
  ['orphanedMovements', 'Orphaned movements'],
  ['fifoViolations', 'FIFO violations'],
  ['balanceBatchMismatches', 'Balance ≠ layers'],
  ['balanceLedgerMismatches', 'Balance ≠ ledger'],
  ['batchLedgerMismatches', 'Layer ≠ its movements'],
];

type PartsFindings = Record<'negativeQuantities' | 'orphanedMovements' | 'fifoViolations' | 'balanceBatchMismatches' | 'balanceLedgerMismatches' | 'batchLedgerMismatches', HealthFinding | undefined>;

function PartsHealth() {
  // The check reads the whole tenant; it runs when asked, not on every visit.
  const [runs, setRuns] = useState(0);
  const query = useQuery(PartsService.method.checkInventoryHealth, {}, { enabled: runs > 0, staleTime: Infinity });
  const data = query.data;
  return (
    <Section
      title="Parts health check"
      actions={
        <button type="button" onClick={() => (runs > 0 ? void query.refetch() : setRuns(1))} disabled={query.isFetching}>
          {query.isFetching ? 'Checking…' : 'Run health check'}
        </button>
      }
    >
      <QueryProblem error={query.error} />
      {query.isFetching && <Loading what="health check" />}
      {data && (
        <>
          <p data-health={data.healthy ? 'healthy' : 'unhealthy'}>
            {data.healthy ? <span className="ok">Healthy</span> : <span className="bad">Problems found</span>} · checked {data.fifoMovementsChecked.toString()} FIFO movements at {formatTime(data.checkTime)}
          </p>
          <table>
            <thead>
              <tr>
                <th scope="col">Check</th>
                <th scope="col" className="num">Count</th>
                <th scope="col">Examples</th>
              </tr>
            </thead>
            <tbody>
              {FINDINGS.map(([key, label]) => (
                <tr key={key}>
                  <td>{label}</td>
                  <td className="num">{data[key]?.count.toString() ?? '0'}</td>
                  <td>
                    <ul className="compact">
                      {data[key]?.examples.map((example, index) => (
                        <li key={index}>
                          <ExampleLinks example={example} />
                        </li>
                      ))}
                    </ul>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
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
      actions={
        <button type="button" onClick={() => (runs > 0 ? void query.refetch() : setRuns(1))} disabled={query.isFetching}>
          {query.isFetching ? 'Reconciling…' : 'Run reconcile'}
        </button>
      }
    >
      <label className="check">
        <input
          type="checkbox"
          checked={only_differences}
          onChange={(event) => {
            setOnlyDifferences(event.target.checked);
            pager.reset();
          }}
        />
        Only rows that disagree
      </label>
      <QueryProblem error={query.error} />
      {query.isFetching && <Loading what="reconcile" />}
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
