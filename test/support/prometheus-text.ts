/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for
 * tests that scrape /metrics as Prometheus would. It refuses what Prometheus
 * refuses: samples of an undeclared family, malformed names, labels or
 * values, duplicate series, and histograms whose buckets are not cumulative
 * or whose +Inf bucket differs from _count.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<string, readonly string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

function fail(line_number: number, line: string, why: string): never {
  throw new Error(`line ${line_number}: ${why}: ${line}`);
}

/** As Prometheus reads values (Go's ParseFloat): NaN and Inf in any letter case (prom-client writes "Nan"). */
function parseValue(text: string): number {
  const special = text.toLowerCase();
  if (special === '+inf' || special === 'inf') return Infinity;
  if (special === '-inf') return -Infinity;
  if (special === 'nan') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value "${text}"`);
  return Number(text);
}

/** Parses `{a="x",b="y\"z"}` starting at `text[0] === '{'`; returns the labels and the rest. */
function parseLabels(text: string): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let at = 1;
  while (text[at] !== '}') {
    const eq = text.indexOf('=', at);
    const name = text.slice(at, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name "${name}"`);
    if (text[eq + 1] !== '"') throw new Error('label value must be quoted');
    let value = '';
    let i = eq + 2;
    for (; text[i] !== '"'; i++) {
      if (i >= text.length) throw new Error('unterminated label value');
      if (text[i] === '\\') {
        const escaped = text[++i];
        if (escaped === 'n') value += '\n';
        else if (escaped === '\\' || escaped === '"') value += escaped;
        else throw new Error(`bad escape \\${escaped}`);
      } else value += text[i];
    }
    if (name in labels) throw new Error(`label ${name} twice`);
    labels[name] = value;
    at = i + 1;
    if (text[at] === ',') at++;
    else if (text[at] !== '}') throw new Error('expected , or } after a label');
  }
  return [labels, text.slice(at + 1)];
}

function familyOf(families: Map<string, Family>, sample_name: string): Family | undefined {
  for (const [name, family] of families) {
    const suffixes = SUFFIXES[family.type] ?? [''];
    if (suffixes.some((suffix) => `${name}${suffix}` === sample_name)) return family;
  }
  return undefined;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const series = new Set<string>();
  const helps = new Map<string, string>();
  text.split('\n').forEach((line, index) => {
    const line_number = index + 1;
    if (line.trim() === '') return;
    const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment;
      if (!NAME.test(name)) fail(line_number, line, 'bad metric name');
      if (kind === 'HELP') helps.set(name, rest);
      else {
        if (!TYPES.has(rest)) fail(line_number, line, 'unknown type');
        if (families.has(name)) fail(line_number, line, 'family declared twice');
        families.set(name, { name, type: rest, help: helps.get(name) ?? '', samples: [] });
      }
      return;
    }
    if (line.startsWith('#')) return;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (!name) fail(line_number, line, 'bad sample name');
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    try {
      if (rest.startsWith('{')) [labels, rest] = parseLabels(rest);
      const parts = rest.trim().split(' ');
      if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2) throw new Error('expected " value [timestamp]"');
      const family = familyOf(families, name);
      if (!family) throw new Error('sample of an undeclared family');
      const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
      if (series.has(key)) throw new Error('duplicate series');
      series.add(key);
      family.samples.push({ name, labels, value: parseValue(parts[0]) });
    } catch (error) {
      fail(line_number, line, (error as Error).message);
    }
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, Sample[]>();
  for (const sample of family.samples.filter((s) => s.name.endsWith('_bucket'))) {
    const { le, ...rest } = sample.labels;
    if (le === undefined) throw new Error(`${family.name}: bucket without le`);
    const key = JSON.stringify(Object.entries(rest).sort());
    groups.set(key, [...(groups.get(key) ?? []), sample]);
  }
  for (const [key, buckets] of groups) {
    const sorted = [...buckets].sort((a, b) => parseValue(a.labels.le) - parseValue(b.labels.le));
    sorted.forEach((bucket, i) => {
      if (i > 0 && bucket.value < sorted[i - 1].value) throw new Error(`${family.name}${key}: buckets not cumulative`);
    });
    const count = family.samples.find((s) => s.name === `${family.name}_count` && JSON.stringify(Object.entries(s.labels).sort()) === key);
    if (sorted.at(-1)?.labels.le !== '+Inf' || count?.value !== sorted.at(-1)?.value) throw new Error(`${family.name}${key}: +Inf bucket differs from _count`);
  }
}

/** The value of one series (labels must match exactly those given, other labels are ignored); 0 when absent. */
export function valueOf(families: Map<string, Family>, sample_name: string, labels: Record<string, string> = {}): number {
  const family = familyOf(families, sample_name);
  const matching = (family?.samples ?? []).filter((s) => s.name === sample_name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return matching.reduce((sum, s) => sum + s.value, 0);
}
