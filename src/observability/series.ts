/**
 * Counters, gauges and histograms whose series are plain objects the hot
 * path updates in place, rendered by prom-client's registry when scraped.
 *
 * Why not prom-client's own: its labelled children hash and validate the
 * label set on every increment, which measured about 5 µs per RPC here;
 * these cost a property increment. A series is made once per label set
 * (`series(...values)`) and kept by the caller, e.g. per method.
 */
import type { Registry } from 'prom-client';

type Labels = Record<string, string>;

interface Exported {
  readonly metricName?: string;
  readonly labels: Labels;
  readonly value: number;
}

abstract class Family<S> {
  private readonly all = new Map<string, { labels: Labels; series: S }>();
  /** prom-client's registry sums series of the same name across workers with this. */
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    private readonly label_names: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** The series of these label values (in label_names order), made on first use. */
  series(...values: string[]): S {
    const key = values.join('\u0000');
    let entry = this.all.get(key);
    if (entry === undefined) {
      if (values.length !== this.label_names.length) throw new Error(`${this.name} takes labels ${this.label_names.join(', ')}`);
      const labels: Labels = {};
      this.label_names.forEach((name, i) => (labels[name] = values[i]));
      entry = { labels, series: this.create() };
      this.all.set(key, entry);
    }
    return entry.series;
  }

  protected abstract create(): S;
  protected abstract export(labels: Labels, series: S): Exported[];

  /** Called by the registry at scrape time. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Exported[] } {
    const values: Exported[] = [];
    for (const { labels, series } of this.all.values()) values.push(...this.export(labels, series));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.all.clear();
  }
}

export class Count {
  value = 0;
}

/** A counter, or a gauge the hot path moves up and down (calls in flight): one number per label set. */
export class ValueFamily extends Family<Count> {
  constructor(registry: Registry, type: 'counter' | 'gauge', name: string, help: string, label_names: readonly string[] = []) {
    super(name, help, type, label_names, registry);
    // A family without labels shows 0 from the start, as prom-client's do.
    if (label_names.length === 0) this.series();
  }

  protected create(): Count {
    return new Count();
  }

  protected export(labels: Labels, series: Count): Exported[] {
    return [{ labels, value: series.value }];
  }
}

export class Distribution {
  /** Observations per bucket (not cumulative), the last one for +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

export class HistogramFamily extends Family<Distribution> {
  constructor(
    registry: Registry,
    name: string,
    help: string,
    private readonly bounds: readonly number[],
    label_names: readonly string[] = [],
  ) {
    super(name, help, 'histogram', label_names, registry);
    if (label_names.length === 0) this.series();
  }

  protected create(): Distribution {
    return new Distribution(this.bounds);
  }

  protected export(labels: Labels, series: Distribution): Exported[] {
    const values: Exported[] = [];
    let cumulative = 0;
    this.bounds.forEach((bound, i) => {
      cumulative += series.counts[i];
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: String(bound) }, value: cumulative });
    });
    values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: series.count });
    values.push({ metricName: `${this.name}_sum`, labels, value: series.sum });
    values.push({ metricName: `${this.name}_count`, labels, value: series.count });
    return values;
  }
}
