// A run's DAG as SVG: stages in columns by depth (longest chain of `needs` before them), each a box
// listing its jobs (links to the job view); arrows for `needs`. paintDag() changes one status in place.
const NS = 'http://www.w3.org/2000/svg';
const W = 220, HEAD = 40, ROW = 26, PAD = 10, GX = 60, GY = 22, M = 12;

function el(tag, attrs = {}, ...kids) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const k of kids) e.append(k);
  return e;
}
const text = (x, y, s, cls, max = 26) => {
  const t = el('text', { x, y, class: cls }, s.length > max ? s.slice(0, max - 1) + '…' : s);
  if (s.length > max) t.append(el('title', {}, s));
  return t;
};

/** stages: [{id, name, status, needs: [name], jobs: [{id, name, status}]}] → <svg> */
export function drawDag(stages) {
  const byName = new Map(stages.map((s) => [s.name, s]));
  const depth = new Map();
  const depthOf = (s, seen = new Set()) => {
    if (depth.has(s.name)) return depth.get(s.name);
    if (seen.has(s.name)) return 0;
    seen.add(s.name);
    const d = (s.needs || []).reduce((m, n) => (byName.has(n) ? Math.max(m, depthOf(byName.get(n), seen) + 1) : m), 0);
    depth.set(s.name, d);
    return d;
  };
  const cols = [];
  for (const s of stages) (cols[depthOf(s)] ??= []).push(s);
  const pos = new Map();
  let height = 0;
  cols.forEach((col, ci) => {
    let y = M;
    for (const s of col || []) {
      const h = HEAD + s.jobs.length * ROW + PAD;
      pos.set(s.name, { x: M + ci * (W + GX), y, h });
      y += h + GY;
    }
    height = Math.max(height, y - GY + M);
  });
  const width = M * 2 + cols.length * (W + GX) - GX;
  const svg = el('svg', { class: 'dag', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'pipeline graph' });
  svg.append(el('defs', {}, el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' }, el('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));
  for (const s of stages) {
    const b = pos.get(s.name);
    for (const n of s.needs || []) {
      const a = pos.get(n);
      if (!a) continue;
      const x1 = a.x + W, y1 = a.y + HEAD / 2, x2 = b.x, y2 = b.y + HEAD / 2;
      svg.append(el('path', { class: 'edge', d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2 - 1},${y2}`, 'marker-end': 'url(#arrow)' }));
    }
  }
  for (const s of stages) {
    const { x, y, h } = pos.get(s.name);
    const g = el('g', { class: `stage st-${s.status}`, 'data-id': s.id, 'data-kind': 'stage' },
      el('rect', { class: 'box', x, y, width: W, height: h, rx: 8 }),
      text(x + 12, y + 18, s.name, 'title', 22),
      text(x + 12, y + 33, s.status, 'stxt'));
    s.jobs.forEach((j, i) => {
      const jy = y + HEAD + i * ROW;
      g.append(el('a', { href: `#/job/${encodeURIComponent(j.id)}`, class: `job st-${j.status}`, 'data-id': j.id, 'data-kind': 'job' },
        el('rect', { class: 'jobrow', x: x + 6, y: jy, width: W - 12, height: ROW - 4, rx: 4 }),
        el('circle', { class: 'dot', cx: x + 18, cy: jy + (ROW - 4) / 2, r: 5 }),
        text(x + 30, jy + 15, j.name, 'jname', 16),
        text(x + W - 14, jy + 15, j.status, 'stxt right')));
    });
    svg.append(g);
  }
  return svg;
}

/** Sets the status of the stage or job `id`; false when the graph does not hold it. */
export function paintDag(svg, id, status) {
  const node = svg.querySelector(`[data-id="${CSS.escape(id)}"]`);
  if (!node) return false;
  node.setAttribute('class', node.getAttribute('class').replace(/\bst-\S+/, `st-${status}`));
  const t = node.querySelector(':scope > .stxt');
  if (t) t.textContent = status;
  return true;
}
