/**
 * The benchmark's charts as hand-written SVG: a latency percentile curve (log latency axis) and a per-second
 * timeline of stacked panels. No dependencies; every number is rounded, every text escaped.
 */

export interface Curve {
  name: string;
  color: string;
  /** [quantile (0..1, below 1), latency ms], in rising quantile order. */
  points: Array<[number, number]>;
  /** The slowest value, drawn at the right edge. */
  max?: number;
}

export interface Series {
  name: string;
  color: string;
  kind: 'bar' | 'line';
  /** One value per second; undefined: nothing measured in that second. */
  values: Array<number | undefined>;
}

export interface Panel {
  label: string;
  series: Series[];
}

export interface Lane {
  name: string;
  /** Per second: whether it ran (a larger mark when `long`). */
  marks: Array<'ran' | 'long' | undefined>;
}

/** Between two panels of a timeline: room for the top tick label. */
const GAP = 20;
const FONT = 'font-family="sans-serif" font-size="11"';
const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fix = (v: number) => String(Math.round(v * 10) / 10);
const text = (x: number, y: number, body: string, extra = '') => `<text x="${fix(x)}" y="${fix(y)}" ${FONT}${extra ? ` ${extra}` : ''}>${esc(body)}</text>`;
const line = (x1: number, y1: number, x2: number, y2: number, stroke = '#ccc') =>
  `<line x1="${fix(x1)}" y1="${fix(y1)}" x2="${fix(x2)}" y2="${fix(y2)}" stroke="${stroke}" stroke-width="1"/>`;
const polyline = (points: Array<[number, number]>, color: string) =>
  `<polyline class="line" fill="none" stroke="${color}" stroke-width="1.5" points="${points.map(([ x, y ]) => `${fix(x)},${fix(y)}`).join(' ')}"/>`;

function svg(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    text(10, 16, title, 'font-weight="bold"'),
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Ticks at 1, 2, 5 × 10^n covering [low, high]. */
export function logTicks(low: number, high: number): number[] {
  const ticks: number[] = [];
  for (let decade = Math.floor(Math.log10(low)); 10 ** decade <= high; decade++) {
    for (const m of [ 1, 2, 5 ]) {
      const v = m * 10 ** decade;
      if (v >= low && v <= high) ticks.push(Math.round(v * 1e6) / 1e6);
    }
  }
  return ticks;
}

/** Ticks from 0 to at least `high` (1 when `high` is 0), about `count` of them, at a round step not below `minStep`. */
export function linearTicks(high: number, count = 3, minStep = 0): number[] {
  const top = high > 0 ? high : 1;
  const raw = top / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(minStep, [ 1, 2, 5, 10 ].map(m => m * magnitude).find(s => s >= raw)!);
  return Array.from({ length: Math.ceil(top / step - 1e-9) + 1 }, (_, i) => Math.round(i * step * 1e6) / 1e6);
}

const NINES = [ [ 0.5, '50' ], [ 0.9, '90' ], [ 0.99, '99' ], [ 0.999, '99.9' ], [ 0.9999, '99.99' ] ] as const;
const ninesOf = (q: number) => -Math.log10(1 - q);

/**
 * Latency by percentile, one curve per target: the x axis spreads the tail (50, 90, 99, 99.9, 99.99 % equally
 * apart, then the max), the y axis is logarithmic.
 */
export function percentileChart(title: string, curves: Curve[]): string {
  const [ width, height ] = [ 640, 320 ];
  const plot = { left: 60, right: width - 150, top: 30, bottom: height - 40 };
  const values = curves.flatMap(c => [ ...c.points.map(p => p[1]), ...(c.max ? [ c.max ] : []) ]).filter(v => v > 0);
  const low = 10 ** Math.floor(Math.log10(Math.min(...values, 1)));
  const high = 10 ** Math.ceil(Math.log10(Math.max(...values, 1) * 1.0001));
  const maxX = ninesOf(0.9999) + 0.4;
  const xOf = (nines: number) => plot.left + ((nines - ninesOf(0.5)) / (maxX - ninesOf(0.5))) * (plot.right - plot.left);
  const yOf = (ms: number) => plot.bottom - ((Math.log10(Math.max(ms, low)) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))) * (plot.bottom - plot.top);
  const body: string[] = [];
  for (const tick of logTicks(low, high)) {
    body.push(line(plot.left, yOf(tick), plot.right, yOf(tick)), text(plot.left - 6, yOf(tick) + 4, `${tick}`, 'text-anchor="end"'));
  }
  for (const [ q, label ] of NINES) body.push(line(xOf(ninesOf(q)), plot.top, xOf(ninesOf(q)), plot.bottom), text(xOf(ninesOf(q)), plot.bottom + 14, label, 'text-anchor="middle"'));
  body.push(text(xOf(maxX), plot.bottom + 14, 'max', 'text-anchor="middle"'));
  body.push(text((plot.left + plot.right) / 2, height - 6, 'percentile (%)', 'text-anchor="middle"'));
  body.push(text(14, (plot.top + plot.bottom) / 2, 'end-to-end latency (ms, log)', `text-anchor="middle" transform="rotate(-90 14 ${fix((plot.top + plot.bottom) / 2)})"`));
  curves.forEach((curve, i) => {
    const points = curve.points.filter(([ q ]) => q >= 0.5 && q <= 0.9999).map(([ q, ms ]) => [ xOf(ninesOf(q)), yOf(ms) ] as [number, number]);
    if (curve.max !== undefined) points.push([ xOf(maxX), yOf(curve.max) ]);
    body.push(polyline(points, curve.color));
    const y = plot.top + 14 + i * 16;
    body.push(line(plot.right + 12, y - 4, plot.right + 30, y - 4, curve.color), text(plot.right + 34, y, curve.name));
  });
  return svg(width, height, title, body);
}

/**
 * A per-second timeline: panels stacked on one time axis (bars and lines, each panel scaled to its own largest
 * value), lanes of marks below them (e.g. which timers ran), and `highlight`ed seconds shaded across all of them.
 */
export function timelineChart(title: string, seconds: number, panels: Panel[], lanes: Lane[], highlight: number[]): string {
  const width = 760;
  const [ panelHeight, laneHeight, left, right, top ] = [ 70, 14, 150, width - 20, 30 ];
  const height = top + panels.length * (panelHeight + GAP) + lanes.length * laneHeight + 40;
  const step = (right - left) / Math.max(1, seconds);
  const xOf = (second: number) => left + second * step;
  const body: string[] = [];
  const lanesTop = top + panels.length * (panelHeight + GAP);
  for (const second of highlight) {
    body.push(`<rect class="stall" x="${fix(xOf(second))}" y="${top}" width="${fix(step)}" height="${fix(lanesTop + lanes.length * laneHeight - top)}" fill="#f44" fill-opacity="0.15"/>`);
  }
  panels.forEach((panel, p) => {
    const bottom = top + p * (panelHeight + GAP) + panelHeight;
    const ticks = linearTicks(Math.max(0, ...panel.series.flatMap(s => s.values.filter((v): v is number => v !== undefined))));
    const yOf = (v: number) => bottom - (v / ticks[ticks.length - 1]) * panelHeight;
    for (const tick of ticks) body.push(line(left, yOf(tick), right, yOf(tick), '#eee'), text(left - 4, yOf(tick) + 4, `${tick}`, 'text-anchor="end"'));
    body.push(line(left, bottom, right, bottom, '#999'), text(10, bottom - panelHeight / 2, panel.label));
    panel.series.forEach((series, i) => {
      body.push(text(10, bottom - panelHeight / 2 + 14 + i * 13, `${series.kind === 'bar' ? '▮' : '—'} ${series.name}`, `fill="${series.color}"`));
      if (series.kind === 'bar') {
        series.values.forEach((v, s) => {
          if (v !== undefined && v > 0) {
            body.push(`<rect class="bar" x="${fix(xOf(s) + step * 0.1)}" y="${fix(yOf(v))}" width="${fix(step * 0.8)}" height="${fix(bottom - yOf(v))}" fill="${series.color}"/>`);
          }
        });
      } else {
        const points = series.values.map((v, s) => (v === undefined ? undefined : [ xOf(s + 0.5), yOf(v) ] as [number, number]))
          .filter((p): p is [number, number] => p !== undefined);
        if (points.length) body.push(polyline(points, series.color));
      }
    });
  });
  lanes.forEach((lane, i) => {
    const y = lanesTop + i * laneHeight + laneHeight / 2;
    body.push(text(10, y + 4, lane.name), line(left, y, right, y, '#eee'));
    lane.marks.forEach((mark, s) => {
      if (mark) body.push(`<circle class="mark" cx="${fix(xOf(s + 0.5))}" cy="${fix(y)}" r="${mark === 'long' ? 4 : 2}" fill="#333"/>`);
    });
  });
  const axisY = lanesTop + lanes.length * laneHeight + 4;
  for (const tick of linearTicks(seconds, 10, 1)) body.push(text(xOf(tick), axisY + 12, `${tick}`, 'text-anchor="middle"'));
  body.push(text((left + right) / 2, axisY + 28, 'second of sending', 'text-anchor="middle"'));
  return svg(width, height, title, body);
}
