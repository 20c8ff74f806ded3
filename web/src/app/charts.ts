// Small inline SVG charts (no chart library, nothing downloaded): the SVG
// is decoration with a one-sentence label; the figures are always also in
// a table next to it. Geometry is in attributes (the CSP forbids inline
// styles); the SVG scales to its container by its viewBox.
const SVG = 'http://www.w3.org/2000/svg';

function s(tag: string, attrs: Record<string, string | number>, ...children: (Node | string)[]): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

export interface Bar {
  label: string;
  value: number;
  /** The figure written at the bar's end. */
  text: string;
}

/** Horizontal bars of value / max (percentages when max is 1). */
export function barChart(title: string, bars: Bar[], max: number): SVGElement {
  const row = 28;
  const width = 420;
  const labelW = 150;
  const barW = width - labelW - 60;
  const height = Math.max(1, bars.length) * row + 4;
  const top = max > 0 ? max : 1;
  return s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, class: 'chart-svg', preserveAspectRatio: 'xMinYMin meet' },
    s('title', {}, title),
    ...bars.map((b, i) => {
      const y = i * row + 4;
      const w = Math.max(0, Math.min(1, b.value / top)) * barW;
      return s('g', {},
        s('text', { x: 0, y: y + 16, class: 'chart-label' }, b.label.length > 22 ? b.label.slice(0, 21) + '…' : b.label),
        s('rect', { x: labelW, y, width: barW, height: 20, class: 'chart-track', rx: 3 }),
        s('rect', { x: labelW, y, width: w.toFixed(1), height: 20, class: 'chart-fill', rx: 3 }),
        s('text', { x: labelW + barW + 4, y: y + 16, class: 'chart-label' }, b.text),
      );
    }),
  );
}

/** Columns per hour (ballots), the hour under every column when there is room. */
export function columnChart(title: string, columns: Bar[]): SVGElement {
  const width = 420;
  const height = 160;
  const base = height - 22;
  const n = Math.max(1, columns.length);
  const slot = width / n;
  const max = Math.max(1, ...columns.map((c) => c.value));
  const every = Math.ceil(n / 6);
  return s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, class: 'chart-svg', preserveAspectRatio: 'xMinYMin meet' },
    s('title', {}, title),
    s('line', { x1: 0, y1: base, x2: width, y2: base, class: 'chart-axis' }),
    ...columns.map((c, i) => {
      const hgt = (c.value / max) * (base - 18);
      const w = Math.min(40, slot * 0.7);
      const mid = i * slot + slot / 2;
      return s('g', {},
        s('rect', { x: (mid - w / 2).toFixed(1), y: (base - hgt).toFixed(1), width: w.toFixed(1), height: hgt.toFixed(1), class: 'chart-fill' }),
        s('text', { x: mid.toFixed(1), y: (base - hgt - 4).toFixed(1), class: 'chart-label', 'text-anchor': 'middle' }, c.text),
        i % every === 0 ? s('text', { x: mid.toFixed(1), y: height - 6, class: 'chart-label', 'text-anchor': 'middle' }, c.label) : '',
      );
    }),
  );
}
