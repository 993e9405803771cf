/**
 * Hand-rolled SVG charts (a few hundred bytes each, no library): stock level
 * over time as a step line, FIFO layers as one bar stacked by unit cost, and
 * on-hand value per location as bars. Each chart has a text alternative.
 */
const PALETTE = ['#2f6fad', '#e08a2e', '#3a9a5b', '#b8434f', '#7b5ea7', '#8c6d3f', '#d16fb2', '#6b7a8c'];

export interface LevelPoint {
  readonly time_ms: number;
  readonly level: number;
}

/** Stock level after each movement, oldest first, drawn as steps (stock changes at a movement, then holds). */
export function LevelChart({ points, title }: { points: readonly LevelPoint[]; title: string }) {
  if (points.length === 0) return <p className="muted">No movements yet.</p>;
  const width = 600;
  const height = 180;
  const pad = { left: 48, right: 12, top: 12, bottom: 28 };
  const t0 = points[0].time_ms;
  const t1 = Math.max(points[points.length - 1].time_ms, t0 + 1);
  const max = Math.max(1, ...points.map((p) => p.level));
  const min = Math.min(0, ...points.map((p) => p.level));
  const x = (t: number) => pad.left + ((t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (v: number) => pad.top + (1 - (v - min) / (max - min)) * (height - pad.top - pad.bottom);
  let path = `M${x(points[0].time_ms)},${y(points[0].level)}`;
  for (let index = 1; index < points.length; index += 1) path += `H${x(points[index].time_ms)}V${y(points[index].level)}`;
  const last = points[points.length - 1];
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title}: ${points.length} movements, from ${points[0].level} to ${last.level}`}>
        <line x1={pad.left} x2={width - pad.right} y1={y(0)} y2={y(0)} className="axis" />
        <line x1={pad.left} x2={pad.left} y1={pad.top} y2={height - pad.bottom} className="axis" />
        <text x={pad.left - 6} y={y(max) + 4} textAnchor="end" className="tick">{max}</text>
        <text x={pad.left - 6} y={y(min) + 4} textAnchor="end" className="tick">{min}</text>
        <text x={pad.left} y={height - 8} className="tick">{new Date(t0).toISOString().slice(0, 16).replace('T', ' ')}</text>
        <text x={width - pad.right} y={height - 8} textAnchor="end" className="tick">{new Date(t1).toISOString().slice(0, 16).replace('T', ' ')}</text>
        <path d={path} className="level-line" />
        {points.map((p, index) => (
          <circle key={index} cx={x(p.time_ms)} cy={y(p.level)} r={2.5} className="level-dot">
            <title>{`${new Date(p.time_ms).toISOString()}: ${p.level}`}</title>
          </circle>
        ))}
      </svg>
      <figcaption>{title}</figcaption>
    </figure>
  );
}

export interface Segment {
  readonly label: string;
  readonly value: number;
}

/** One horizontal bar split into segments (e.g. quantity per unit cost, oldest layer first). */
export function StackedBar({ segments, title, unit }: { segments: readonly Segment[]; title: string; unit: string }) {
  const total = segments.reduce((sum, s) => sum + s.value, 0);
  if (total <= 0) return <p className="muted">Nothing on hand.</p>;
  let offset = 0;
  return (
    <figure className="chart" data-chart="layers">
      <svg viewBox="0 0 600 44" role="img" aria-label={`${title}: ${segments.map((s) => `${s.value} ${unit} at ${s.label}`).join(', ')}`}>
        {segments.map((segment, index) => {
          const width = (segment.value / total) * 600;
          const rect = (
            <rect key={index} x={offset} y={4} width={width} height={36} fill={PALETTE[index % PALETTE.length]} data-segment={segment.label}>
              <title>{`${segment.value} ${unit} at ${segment.label}`}</title>
            </rect>
          );
          offset += width;
          return rect;
        })}
      </svg>
      <figcaption>
        {title}
        <ul className="legend">
          {segments.map((segment, index) => (
            <li key={index}>
              <span className="swatch" style={{ background: PALETTE[index % PALETTE.length] }} aria-hidden="true" />
              {segment.value} {unit} at {segment.label}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}

/** Horizontal bars with their values written out (e.g. on-hand value per location). */
export function Bars({ bars, title }: { bars: readonly Segment[]; title: string }) {
  const max = Math.max(0, ...bars.map((b) => b.value));
  if (bars.length === 0) return <p className="muted">Nothing to show.</p>;
  const row = 26;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 600 ${bars.length * row + 4}`} role="img" aria-label={`${title}: ${bars.map((b) => `${b.label} ${b.value}`).join(', ')}`}>
        {bars.map((bar, index) => (
          <g key={bar.label} transform={`translate(0 ${index * row + 2})`}>
            <text x={0} y={16} className="tick">{bar.label}</text>
            <rect x={200} y={3} height={18} width={max > 0 ? (bar.value / max) * 300 : 0} fill={PALETTE[0]} />
            <text x={510} y={16} className="tick">{bar.value.toLocaleString('en-US', { maximumFractionDigits: 2 })}</text>
          </g>
        ))}
      </svg>
      <figcaption>{title}</figcaption>
    </figure>
  );
}
