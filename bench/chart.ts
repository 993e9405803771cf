/**
 * Throughput against calls in flight, one panel per scenario, with the
 * raw-db, grpc-echo and composed ceilings beside the service: a Vega-Lite
 * spec rendered to SVG headless by Vega.
 */
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { Row } from './report.js';

interface Datum {
  scenario: string;
  in_flight: number;
  series: string;
  ops_per_second: number;
}

const SERIES = ['service', 'composed ceiling', 'raw-db', 'grpc-echo'];

export async function throughputChart(rows: readonly Row[], title: string): Promise<string> {
  const data: Datum[] = [];
  for (const row of rows) {
    const add = (series: string, value: number | undefined) => {
      if (value !== undefined && Number.isFinite(value)) data.push({ scenario: row.scenario, in_flight: row.concurrency, series, ops_per_second: value });
    };
    add('service', row.service.ops_per_second);
    add('composed ceiling', row.composed_ceiling);
    add('raw-db', row.raw_db_ops_per_second);
    add('grpc-echo', row.grpc_echo_ops_per_second);
  }
  const spec: vegaLite.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: 'operations per second against calls in flight; ceilings measured in the same run' },
    data: { values: data },
    facet: { field: 'scenario', type: 'nominal', title: null, sort: [...new Set(rows.map((row) => row.scenario))] },
    columns: 3,
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 260,
      height: 190,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'in_flight', type: 'ordinal', title: 'calls in flight', axis: { labelAngle: 0 } },
        y: { field: 'ops_per_second', type: 'quantitative', title: 'ops/s', scale: { zero: true } },
        color: { field: 'series', type: 'nominal', sort: SERIES, scale: { domain: SERIES, range: ['#d62728', '#1f77b4', '#7f7f7f', '#bcbd22'] }, title: null },
        strokeDash: {
          field: 'series',
          type: 'nominal',
          sort: SERIES,
          scale: { domain: SERIES, range: [[1, 0], [6, 3], [2, 2], [2, 2]] },
          title: null,
        },
      },
    },
    config: { font: 'sans-serif' },
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
