// A run's DAG as SVG: stages in columns by depth (longest chain of `needs` before them), each a box
// listing its jobs (links to the job view) with each job's OWN status colour, duration and exit code;
// the jobs of a job-level matrix (`fit[lr=0.1]`…) fold into one row per job with a count per status
// (click to unfold). Arrows for `needs`. paintDag() changes one status in place.
const NS = 'http://www.w3.org/2000/svg';
const W = 250, HEAD = 40, ROW = 26, PAD = 10, GX = 56, GY = 22, M = 12;
const MARK = { succeeded: '✓', failed: '✗', running: '▶', queued: '…', pending: '…', canceled: '⊘', skipped: '–' };

function el(tag, attrs = {}, ...kids) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const k of kids) e.append(k);
  return e;
}
const text = (x, y, s, cls, max = 26) => {
  const t = el('text', { x, y, class: cls }, s.length > max ? s.slice(0, max - 1) + '…' : s);
  if (s.length > max) t.append(el('title', {}, s));
  return t;
};
const short = (ms) => (ms < 1000 ? `${ms} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s` : ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`);
/** "exit 2 · 4.1 s", "3.0 s", "" */
export function jobFacts(j, now = Date.now()) {
  const d = j.started_at ? short(Math.max(0, (j.ended_at ? Date.parse(j.ended_at) : now) - Date.parse(j.started_at))) : '';
  const exit = j.exit_code !== null && j.exit_code !== undefined && j.exit_code !== 0 ? `exit ${j.exit_code}` : '';
  return [exit, d].filter(Boolean).join(' · ');
}
const base = (j) => (j.matrix ? j.name.replace(/\[.*$/, '') : null);

/** The rows of a stage box: a job, or a folded matrix job {fold: base, jobs, counts}. */
function rowsOf(stage, open) {
  const out = [], folds = new Map();
  for (const j of stage.jobs) {
    const b = base(j);
    if (b === null || open.has(`${stage.id}/${b}`)) { out.push({ job: j }); continue; }
    let f = folds.get(b);
    if (!f) { f = { fold: b, key: `${stage.id}/${b}`, jobs: [], counts: {} }; folds.set(b, f); out.push(f); }
    f.jobs.push(j); f.counts[j.status] = (f.counts[j.status] ?? 0) + 1;
  }
  return out.map((r) => (r.fold && r.jobs.length === 1 ? { job: r.jobs[0] } : r));
}
const worst = (counts) => ['failed', 'running', 'queued', 'pending', 'canceled', 'skipped', 'succeeded'].find((s) => counts[s]) ?? 'pending';

/** stages: [{id, name, status, needs: [name], jobs: [{id, name, status, exit_code, started_at, ended_at, matrix}]}] → <svg>.
 *  open: the folded matrix jobs to show unfolded ("stageId/base"); onToggle(key) is called on a click of a fold. */
export function drawDag(stages, { open = new Set(), onToggle = () => {} } = {}) {
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
  const pos = new Map(), rows = new Map();
  let height = 0;
  cols.forEach((col, ci) => {
    let y = M;
    for (const s of col || []) {
      rows.set(s.name, rowsOf(s, open));
      const h = HEAD + rows.get(s.name).length * ROW + PAD;
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
      text(x + 12, y + 18, s.name, 'title', 24),
      text(x + 12, y + 33, s.status, 'stxt'));
    rows.get(s.name).forEach((r, i) => {
      const jy = y + HEAD + i * ROW;
      if (r.fold) {
        const counts = Object.entries(r.counts).map(([st, n]) => `${n}${MARK[st] ?? st}`).join(' ');
        const node = el('g', { class: `job fold st-${worst(r.counts)}`, 'data-fold': r.key, 'data-kind': 'fold', tabindex: 0, role: 'button' },
          el('title', {}, `${r.fold}: ${r.jobs.length} matrix jobs (${Object.entries(r.counts).map(([st, n]) => `${n} ${st}`).join(', ')}); click to list them`),
          el('rect', { class: 'jobrow', x: x + 6, y: jy, width: W - 12, height: ROW - 4, rx: 4 }),
          el('circle', { class: 'dot', cx: x + 18, cy: jy + (ROW - 4) / 2, r: 5 }),
          text(x + 30, jy + 15, `${r.fold} ×${r.jobs.length}`, 'jname', 14),
          text(x + W - 14, jy + 15, counts, 'stxt right counts', 20));
        node.addEventListener('click', () => onToggle(r.key));
        node.addEventListener('keydown', (e) => { if (e.key === 'Enter') onToggle(r.key); });
        g.append(node);
        return;
      }
      const j = r.job;
      g.append(el('a', { href: `#/job/${encodeURIComponent(j.id)}`, class: `job st-${j.status}`, 'data-id': j.id, 'data-kind': 'job' },
        el('title', {}, `${j.name}: ${j.status}${jobFacts(j) ? ` (${jobFacts(j)})` : ''}`),
        el('rect', { class: 'jobrow', x: x + 6, y: jy, width: W - 12, height: ROW - 4, rx: 4 }),
        el('circle', { class: 'dot', cx: x + 18, cy: jy + (ROW - 4) / 2, r: 5 }),
        text(x + 30, jy + 15, j.name, 'jname', 15),
        text(x + W - 14, jy + 15, jobFacts(j) || j.status, 'stxt right facts', 18)));
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
  const t = node.querySelector(':scope > .stxt:not(.facts)');
  if (t) t.textContent = status;
  return true;
}
