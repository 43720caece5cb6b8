// A group (sweep) page (#/group/ID): live progress, Pause/Resume/Cancel (Cancel asks first and says
// how many runs it stops), the results table (GET /groups/:id/results: one row per run with params,
// outputs, status, took), sortable by any column and paged so 10,000 rows stay quick, and a chart.
import { h, fill, get, auth, badge, when, took, progress, groupButtons, show, TERMINAL } from './lib.js';
import { drawChart, num } from './chart.js';

const PAGE = 100;

/** numbers as numbers before text; missing last (as the API's ?sort= does) */
function compare(a, b) {
  if (a === undefined || a === null) return b === undefined || b === null ? 0 : 1;
  if (b === undefined || b === null) return -1;
  const x = num(a), y = num(b);
  if (x !== null && y !== null) return x - y;
  if (x !== null) return -1;
  if (y !== null) return 1;
  return String(a).localeCompare(String(b));
}

export async function groupView(id) {
  const el = h('section', { class: 'group-page' });
  const head = h('div'), table = h('div', { class: 'results' }), chartBox = h('div', { class: 'chartbox' });
  let g = null, rows = [], runIds = new Set();
  const sort = { key: null, desc: false }, page = { at: 0 };
  const pick = { y: null, x: null, by: '' };

  const cols = () => {
    const params = [...new Set(rows.flatMap((r) => Object.keys(r.params ?? {})))];
    const outputs = [...new Set(rows.flatMap((r) => Object.keys(r.outputs ?? {})))];
    return [
      { key: 'run_id', label: 'run', get: (r) => r.run_id },
      { key: 'status', label: 'status', get: (r) => r.status },
      ...params.map((p) => ({ key: `p:${p}`, label: p, get: (r) => r.params?.[p], cls: 'param' })),
      ...outputs.map((o) => ({ key: `o:${o}`, label: o, get: (r) => r.outputs?.[o], cls: 'output' })),
      { key: 'exit_code', label: 'exit', get: (r) => r.exit_code },
      { key: 'took_s', label: 'took', get: (r) => r.took_s },
    ];
  };
  const sorted = () => {
    const c = cols().find((x) => x.key === sort.key);
    if (!c) return rows;
    return rows.map((r, i) => ({ r, i })).sort((p, q) => (sort.desc ? -1 : 1) * compare(c.get(p.r), c.get(q.r)) || p.i - q.i).map((x) => x.r);
  };
  const paintTable = () => {
    const cs = cols();
    const all = sorted();
    const pages = Math.max(1, Math.ceil(all.length / PAGE));
    page.at = Math.min(page.at, pages - 1);
    const shown = all.slice(page.at * PAGE, (page.at + 1) * PAGE);
    const th = (c) => h('th', { 'data-key': c.key, class: `sortable ${c.cls ?? ''}`, 'aria-sort': sort.key === c.key ? (sort.desc ? 'descending' : 'ascending') : 'none',
      onclick: () => { sort.desc = sort.key === c.key ? !sort.desc : false; sort.key = c.key; paintTable(); } }, c.label, sort.key === c.key ? (sort.desc ? ' ▼' : ' ▲') : '');
    const td = (c, r) => c.key === 'run_id' ? h('td', {}, h('a', { href: `#/run/${r.run_id}` }, r.run_id))
      : c.key === 'status' ? h('td', {}, badge(r.status)) : c.key === 'took_s' ? h('td', {}, r.took_s === null ? '—' : `${r.took_s} s`)
        : h('td', { class: c.cls ?? '' }, show(c.get(r)));
    const nav = pages > 1 ? h('div', { class: 'pager' },
      h('button', { type: 'button', disabled: page.at === 0, onclick: () => { page.at--; paintTable(); } }, '‹ prev'),
      h('span', { class: 'muted', id: 'page-info' }, ` rows ${page.at * PAGE + 1}–${page.at * PAGE + shown.length} of ${all.length} `),
      h('button', { type: 'button', disabled: page.at >= pages - 1, onclick: () => { page.at++; paintTable(); } }, 'next ›')) : null;
    fill(table, h('div', { class: 'scroll' }, h('table', { class: 'results-table' }, h('thead', {}, h('tr', {}, cs.map(th))),
      h('tbody', {}, shown.length ? shown.map((r) => h('tr', { 'data-run': r.run_id }, cs.map((c) => td(c, r)))) : h('tr', {}, h('td', { colspan: cs.length, class: 'muted' }, 'No runs.'))))), nav);
  };
  const paintChart = () => {
    const params = [...new Set(rows.flatMap((r) => Object.keys(r.params ?? {})))];
    const outputs = [...new Set(rows.flatMap((r) => Object.keys(r.outputs ?? {})))].filter((o) => rows.some((r) => num(r.outputs?.[o]) !== null));
    if (!outputs.length || !params.length) { chartBox.replaceChildren(h('p', { class: 'muted' }, 'No numeric outputs to chart yet (a job writes key=value lines to $DROVER_OUTPUT).')); return; }
    if (!outputs.includes(pick.y)) pick.y = outputs[0];
    if (!params.includes(pick.x)) pick.x = params[0];
    if (pick.by && (!params.includes(pick.by) || pick.by === pick.x)) pick.by = '';
    const sel = (k, opts, any) => h('select', { name: k, onchange: (e) => { pick[k] = e.target.value; paintChart(); } },
      any ? h('option', { value: '' }, 'none') : null, opts.map((o) => h('option', { value: o, selected: pick[k] === o }, o)));
    fill(chartBox, h('div', { class: 'filters' }, h('label', {}, 'y ', sel('y', outputs)), h('label', {}, 'x ', sel('x', params)),
      h('label', {}, 'line per ', sel('by', params.filter((p) => p !== pick.x), true))), h('div', { class: 'scroll' }, drawChart(rows, pick.y, pick.x, pick.by)));
  };
  const facts = h('div'), actions = h('div', { class: 'actions' });
  let shownStatus = null;
  /** the title, facts and progress every time; the buttons only when the status changes (a click is never lost to a repaint) */
  const paintHead = () => {
    const c = g.counts;
    fill(facts,
      h('h1', {}, `${g.sweep ? 'Sweep' : 'Group'} ${g.id} `, badge(g.status)),
      h('dl', { class: 'facts' }, h('dt', {}, 'pipeline'), h('dd', {}, h('a', { href: `#/runs?pipeline=${encodeURIComponent(g.pipeline)}` }, g.pipeline)),
        h('dt', {}, 'runs'), h('dd', { id: 'g-total' }, `${g.total} (${c.succeeded} succeeded, ${c.failed} failed, ${c.canceled} canceled, ${c.running} running, ${c.queued} queued)`),
        h('dt', {}, 'created'), h('dd', {}, when(g.created_at)), h('dt', {}, 'took'), h('dd', {}, took(g.created_at, g.ended_at))),
      progress(c, g.total));
    if (shownStatus !== g.status) {
      shownStatus = g.status;
      fill(actions, groupButtons(g.id, g.status, load), h('a', { class: 'button', href: `/api/v1/groups/${encodeURIComponent(g.id)}/results?format=csv`, onclick: download }, 'Download CSV'));
    }
  };
  head.append(facts, actions);
  const download = async (ev) => { // the link needs the token in a header: fetch, then save the blob
    ev.preventDefault();
    const res = await fetch(ev.currentTarget.getAttribute('href'), { headers: { authorization: `Bearer ${auth.token}` } });
    const a = h('a', { href: URL.createObjectURL(await res.blob()), download: `${id}-results.csv` });
    a.click(); setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  };
  const load = async () => {
    const [gg, res] = await Promise.all([get(`/groups/${encodeURIComponent(id)}`), get(`/groups/${encodeURIComponent(id)}/results?format=json`)]);
    g = gg; rows = res.items; runIds = new Set(rows.map((r) => r.run_id));
    paintHead(); paintTable();
    performance.mark('drover:results-table');
    // the chart (up to 10,000 marks) after the table is on screen
    cancelAnimationFrame(chartFrame);
    chartFrame = requestAnimationFrame(() => setTimeout(() => { paintChart(); performance.mark('drover:results-chart'); }, 0));
  };
  let chartFrame = 0;
  await load();
  el.append(head, h('h2', {}, 'Results'), table, h('h2', {}, 'Chart'), chartBox);
  // live: the counts (one small read) at most every 0.8 s; the results (about 200 bytes a run, and
  // server time to match) at most every 0.8 s for a small sweep, every 10 s for 10,000 runs
  const throttle = (fn, gapMs) => {
    let pending = 0, lastAt = 0;
    const run = () => {
      if (pending) return;
      pending = setTimeout(() => { pending = 0; lastAt = Date.now(); fn().catch(() => {}); }, Math.max(200, gapMs() - (Date.now() - lastAt)));
    };
    run.stop = () => clearTimeout(pending);
    return run;
  };
  const counts = throttle(async () => { g = await get(`/groups/${encodeURIComponent(id)}`); paintHead(); }, () => 800);
  const results = throttle(load, () => Math.max(800, rows.length));
  const later = () => { counts(); results(); };
  return {
    el,
    onStatus: (e) => { if ((e.kind === 'group' && e.id === id) || (e.kind === 'run' && runIds.has(e.id)) || (e.kind === 'job' && e.run_id && runIds.has(e.run_id) && TERMINAL.has(e.status))) later(); },
    onReconnect: later,
    dispose: () => { counts.stop(); results.stop(); cancelAnimationFrame(chartFrame); },
  };
}
