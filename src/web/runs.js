// The runs list (#/runs?status=&trigger=&pipeline=): filters kept in the address, newest first,
// paged with next_cursor ("More"), each sweep collapsed into one row with a live progress bar that
// expands into its runs. A click anywhere on a run's row opens the run.
import { h, get, badge, setBadge, when, took, go, progress } from './lib.js';

const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'];
const TRIGGERS = ['manual', 'api', 'sweep', 'schedule', 'event', 'webhook'];
const PAGE = 50;

export const paramText = (p) => Object.entries(p ?? {}).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');

function filterBar(q) {
  const set = (k, v) => {
    const next = new URLSearchParams({ ...q, [k]: v });
    for (const [key, val] of [...next]) if (!val) next.delete(key);
    go(`#/runs${next.size ? `?${next}` : ''}`);
  };
  const select = (k, label, opts) => h('label', {}, label, ' ', h('select', { name: k, onchange: (e) => set(k, e.target.value) },
    h('option', { value: '' }, 'any'), opts.map((o) => h('option', { value: o, selected: q[k] === o }, o))));
  const pipe = h('input', { name: 'pipeline', list: 'pipelines', value: q.pipeline ?? '', placeholder: 'any', size: 12, onchange: (e) => set('pipeline', e.target.value.trim()) });
  const list = h('datalist', { id: 'pipelines' });
  get('/pipelines').then((p) => list.replaceChildren(...(p.items ?? []).map((x) => h('option', { value: x.name })))).catch(() => {});
  const any = q.status || q.trigger || q.pipeline;
  return h('form', { class: 'filters', onsubmit: (e) => e.preventDefault() },
    select('status', 'status', STATUSES), select('trigger', 'trigger', TRIGGERS), h('label', {}, 'pipeline ', pipe), list,
    any ? h('a', { href: '#/runs', class: 'clear' }, 'clear filters') : null);
}

export async function runsView(q) {
  const tbody = h('tbody');
  const foot = h('div', { class: 'more' });
  const rows = new Map();
  const expanded = new Map(); // group id → its runs (first 100), shown under its row
  let items = [], cursor = null;
  const query = (limit, cur) => {
    const p = new URLSearchParams({ collapse: 'group', limit: String(limit) });
    for (const k of ['status', 'trigger', 'pipeline']) if (q[k]) p.set(k, q[k]);
    if (cur) p.set('cursor', cur);
    return `/runs?${p}`;
  };
  const pipeLink = (name) => h('a', { href: `#/runs?pipeline=${encodeURIComponent(name)}`, class: 'pipe', onclick: (e) => e.stopPropagation() }, name);
  const runRow = (r, sub = false) => {
    const tr = h('tr', { 'data-id': r.id, class: sub ? 'run sub' : 'run', onclick: () => go(`#/run/${r.id}`) },
      h('td', {}, badge(r.status)), h('td', {}, h('a', { href: `#/run/${r.id}` }, r.id)), h('td', {}, pipeLink(r.pipeline)),
      h('td', { class: 'params', title: paramText(r.params) }, paramText(r.params) || '—'), h('td', {}, r.trigger?.kind ?? '—'),
      h('td', {}, when(r.created_at)), h('td', {}, took(r.started_at, r.ended_at)));
    rows.set(r.id, tr);
    return tr;
  };
  const groupRow = (r) => {
    const g = r.group;
    const open = expanded.has(g.id);
    const toggle = async () => {
      if (expanded.has(g.id)) expanded.delete(g.id);
      else expanded.set(g.id, (await get(`/runs?group=${encodeURIComponent(g.id)}&limit=100`)).items);
      render();
    };
    return h('tr', { 'data-group': g.id, class: 'grouprow', onclick: toggle },
      h('td', {}, badge(g.status)),
      h('td', {}, h('button', { type: 'button', class: 'link expand', 'aria-expanded': String(open), title: open ? 'hide its runs' : 'show its runs' }, open ? '▾' : '▸'), ' ',
        h('a', { href: `#/group/${g.id}`, onclick: (e) => e.stopPropagation() }, `${g.sweep ? 'sweep' : 'group'} ${g.id}`)),
      h('td', {}, pipeLink(g.pipeline)),
      h('td', { class: 'params' }, progress(g.counts, g.total), h('span', { class: 'muted small' }, ` ${g.total} runs`)),
      h('td', {}, g.trigger?.kind ?? '—'), h('td', {}, when(g.created_at)), h('td', {}, took(g.created_at, g.ended_at)));
  };
  const render = () => {
    rows.clear();
    const out = [];
    for (const r of items) {
      if (!r.group) { out.push(runRow(r)); continue; }
      out.push(groupRow(r));
      const subs = expanded.get(r.group.id);
      if (subs) {
        out.push(...subs.map((x) => runRow(x, true)));
        if (r.group.total > subs.length) out.push(h('tr', { class: 'sub' }, h('td', { colspan: 7 }, h('a', { href: `#/group/${r.group.id}` }, `${r.group.total - subs.length} more: open the group`))));
      }
    }
    if (!out.length) out.push(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, q.status || q.trigger || q.pipeline ? 'No runs match these filters.' : 'No runs yet. Submit one with drover submit FILE.')));
    tbody.replaceChildren(...out);
    foot.replaceChildren(cursor ? h('button', { type: 'button', id: 'more', onclick: more }, 'More') : h('span', { class: 'muted' }, items.length ? `${items.length} row(s), the end` : ''));
  };
  const more = async () => {
    const page = await get(query(PAGE, cursor));
    items.push(...page.items); cursor = page.next_cursor;
    render();
  };
  // live: one request re-reads every row loaded so far (with the groups' counts), and the open groups
  const refresh = async () => {
    const page = await get(query(Math.min(1000, Math.max(PAGE, items.length)), null));
    items = page.items; cursor = page.next_cursor;
    for (const id of expanded.keys()) expanded.set(id, (await get(`/runs?group=${encodeURIComponent(id)}&limit=100`)).items);
    render();
  };
  let pending = 0, lastAt = 0;
  const later = () => {
    if (pending) return;
    pending = setTimeout(() => { pending = 0; lastAt = Date.now(); refresh().catch(() => {}); }, Math.max(300, 1000 - (Date.now() - lastAt)));
  };
  await refresh();
  const el = h('section', { class: 'runs-page' }, h('h1', {}, 'Runs'), filterBar(q),
    h('div', { class: 'scroll' }, h('table', { class: 'runs' }, h('thead', {}, h('tr', {}, ['Status', 'Run', 'Pipeline', 'Params', 'Trigger', 'Created', 'Took'].map((t) => h('th', {}, t)))), tbody)), foot);
  return {
    el,
    onStatus: (e) => {
      if (e.kind === 'run') { const tr = rows.get(e.id); if (tr) setBadge(tr, e.status); later(); }
      else if (e.kind === 'group') later();
    },
    onReconnect: later,
    dispose: () => clearTimeout(pending),
  };
}
