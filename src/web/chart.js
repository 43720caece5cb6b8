// A sweep's chart as inline SVG: one numeric output (y) against one param (x), one mark per run;
// with a second param, one line (and colour) per value of it. A non-numeric x is spread evenly.
// A click on a mark opens its run.
const NS = 'http://www.w3.org/2000/svg';
const W = 640, H = 320, L = 56, R = 16, T = 14, B = 44;
const COLOURS = ['#1a6fd6', '#c62828', '#1f8a3b', '#b26a00', '#6a3fb5', '#00838f', '#ad1457', '#5d4037'];

function el(tag, attrs = {}, ...kids) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const k of kids) e.append(k);
  return e;
}
export const num = (v) => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : null);
const fmt = (v) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : String(+v.toPrecision(4)));

/** rows: [{run_id, params, outputs}]; y: an output key; x: a param; by: a param or '' → <svg> */
export function drawChart(rows, y, x, by) {
  const pts = rows.map((r) => ({ r, yv: num(r.outputs?.[y]), xraw: r.params?.[x], s: by ? JSON.stringify(r.params?.[by]) : '' })).filter((p) => p.yv !== null);
  const numericX = pts.every((p) => num(p.xraw) !== null);
  const cats = numericX ? [] : [...new Set(pts.map((p) => JSON.stringify(p.xraw)))];
  for (const p of pts) p.xv = numericX ? num(p.xraw) : cats.indexOf(JSON.stringify(p.xraw));
  const span = (vs) => { let lo = Math.min(...vs), hi = Math.max(...vs); if (lo === hi) { lo -= 1; hi += 1; } return [lo, hi]; };
  const [x0, x1] = pts.length ? span(pts.map((p) => p.xv)) : [0, 1];
  const [y0, y1] = pts.length ? span(pts.map((p) => p.yv)) : [0, 1];
  const sx = (v) => L + ((v - x0) / (x1 - x0)) * (W - L - R), sy = (v) => H - B - ((v - y0) / (y1 - y0)) * (H - T - B);
  const svg = el('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${y} against ${x}` });
  svg.append(el('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }), el('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }));
  for (const v of [y0, (y0 + y1) / 2, y1]) svg.append(el('text', { class: 'tick', x: L - 6, y: sy(v) + 4, 'text-anchor': 'end' }, fmt(v)));
  const xt = numericX ? [x0, (x0 + x1) / 2, x1].map((v) => [v, fmt(v)]) : cats.map((c, i) => [i, c.replace(/^"|"$/g, '')]);
  for (const [v, label] of xt.slice(0, 20)) svg.append(el('text', { class: 'tick', x: sx(v), y: H - B + 16, 'text-anchor': 'middle' }, label));
  svg.append(el('text', { class: 'label', x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle' }, x), el('text', { class: 'label', x: 12, y: (T + H - B) / 2, transform: `rotate(-90 12 ${(T + H - B) / 2})`, 'text-anchor': 'middle' }, y));
  const series = [...new Set(pts.map((p) => p.s))];
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const mine = pts.filter((p) => p.s === s).sort((a, b) => a.xv - b.xv);
    if (by && mine.length > 1) svg.append(el('polyline', { class: 'series', stroke: colour, points: mine.map((p) => `${sx(p.xv)},${sy(p.yv)}`).join(' '), 'data-series': s }));
    for (const p of mine) { // one element per mark (10,000 points stay 10,000 elements); a tooltip while few
      const c = el('circle', { class: 'mark', cx: sx(p.xv), cy: sy(p.yv), r: pts.length > 1000 ? 2.5 : 4, fill: colour, 'data-run': p.r.run_id });
      if (pts.length <= 1000) c.append(el('title', {}, `${p.r.run_id}: ${x}=${JSON.stringify(p.xraw)}${by ? ` ${by}=${s}` : ''} → ${y}=${p.yv}`));
      svg.append(c);
    }
    if (by) svg.append(el('text', { class: 'legend', x: W - R, y: T + 12 + i * 15, 'text-anchor': 'end', fill: colour }, `${by}=${s.replace(/^"|"$/g, '')}`));
  });
  svg.addEventListener('click', (e) => { const run = e.target.getAttribute?.('data-run'); if (run) location.hash = `#/run/${run}`; });
  return svg;
}
