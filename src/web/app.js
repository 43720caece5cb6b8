// drover's web page: runs, a run's DAG, a job's live log and `why`, the queue and the daemon's
// heartbeat. No framework and nothing from outside the server that serves it. Data comes from
// /api/v1 (HTTP) and one WebSocket (/api/v1/ws) that is re-opened and re-subscribed (status from
// the last event seq, logs from the last byte offset) whenever it drops, so the page reattaches.
import { drawDag, paintDag } from './dag.js';

const STALE_MS = 15_000;
const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'skipped']);
const $ = (id) => document.getElementById(id);

function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) e.append(k);
  return e;
}
const badge = (status) => h('span', { class: `badge st-${status}`, 'data-status': status }, status);
const setBadge = (root, status) => root?.querySelector('.badge')?.replaceWith(badge(status));
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const secs = (ms) => (ms < 60_000 ? `${Math.round(ms / 1000)} s` : ms < 3_600_000 ? `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s` : `${(ms / 3_600_000).toFixed(1)} h`);
const took = (a, b) => (a ? secs((b ? Date.parse(b) : Date.now()) - Date.parse(a)) : '—');

function flash(msg, bad = false) {
  const f = $('flash');
  f.textContent = msg; f.className = bad ? 'flash bad' : 'flash'; f.hidden = false;
  clearTimeout(flash.t); flash.t = setTimeout(() => { f.hidden = true; }, 4000);
}

// ---- token and HTTP ----

let token = localStorage.getItem('drover.token') || '';
class ApiError extends Error { constructor(status, message) { super(message); this.status = status; } }

async function api(method, path, body, timeoutMs = 10_000) {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), timeoutMs);
  let res;
  try {
    res = await fetch(`/api/v1${path}`, { method, signal: ctl.signal, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  } catch { throw new ApiError(0, 'the server is unreachable'); } finally { clearTimeout(t); }
  const j = await res.json().catch(() => null);
  if (res.status === 401) { askToken('The server refused this token.'); throw new ApiError(401, 'unauthorized'); }
  if (!res.ok) throw new ApiError(res.status, j?.error?.message || `${res.status} ${res.statusText}`);
  return { body: j, date: res.headers.get('date') };
}
const get = async (path) => (await api('GET', path)).body;

/** A button that POSTs and then refreshes; it says what went wrong. */
function actionButton(label, path, after, cls = '') {
  const b = h('button', { type: 'button', class: cls, 'data-action': path, onclick: async () => {
    b.disabled = true;
    try { await api('POST', path); flash(`${label}: done`); await after?.(); pollHealth(); } catch (e) { flash(`${label}: ${e.message}`, true); } finally { b.disabled = false; }
  } }, label);
  return b;
}

// ---- health: GET /queue every 2 s; a banner when the server is unreachable or its heartbeat is stale ----

const health = { queue: null, heartbeatAt: null, skew: 0, failingSince: 0, listeners: new Set() };

async function pollHealth() {
  if (!token || view?.tokenForm) return; // nothing to ask with, or the token was refused: wait for a new one
  try {
    const { body, date } = await api('GET', '/queue', undefined, 4000);
    health.queue = body; health.heartbeatAt = body.daemon?.heartbeat_at ?? null;
    health.skew = date ? Date.parse(date) - Date.now() : 0;
    if (health.failingSince) { health.failingSince = 0; reconnectSoon(); }
    for (const fn of health.listeners) fn(body);
  } catch (e) {
    if (e.status === 0 && !health.failingSince) health.failingSince = Date.now();
  }
  paintHealth();
}

function paintHealth() {
  const age = health.heartbeatAt ? Date.now() + health.skew - Date.parse(health.heartbeatAt) : null;
  $('beat').textContent = age === null ? '' : `heartbeat ${secs(Math.max(0, age))} ago`;
  const msgs = [];
  if (health.failingSince) msgs.push(`Server unreachable since ${new Date(health.failingSince).toLocaleTimeString()}; retrying. What you see may be out of date.`);
  if (age !== null && age > STALE_MS) msgs.push(`The daemon's heartbeat is stale: last beat ${secs(age)} ago (${when(health.heartbeatAt)}).`);
  const b = $('banner');
  b.hidden = msgs.length === 0;
  b.textContent = msgs.join(' ');
  $('beat').classList.toggle('stale', msgs.length > 0);
}

// ---- live: one WebSocket, re-subscribed after every reconnect ----

const live = { ws: null, lastSeq: 0, logs: new Map(), delay: 500, timer: 0, opens: 0 };

function wsSend(o) { if (live.ws?.readyState === 1) live.ws.send(JSON.stringify(o)); }

function connect() {
  clearTimeout(live.timer);
  if (!token || live.ws) return;
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws?token=${encodeURIComponent(token)}`);
  live.ws = ws;
  ws.onopen = () => {
    live.delay = 500;
    setConn(true);
    wsSend(live.lastSeq ? { op: 'subscribe', channel: 'status', since: live.lastSeq } : { op: 'subscribe', channel: 'status' });
    for (const t of live.logs.values()) t.subscribe();
    if (live.opens++ > 0) view?.onReconnect?.();
  };
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
  ws.onclose = () => {
    if (live.ws !== ws) return; // replaced (a new token)
    live.ws = null;
    setConn(false);
    for (const t of live.logs.values()) t.onDisconnect();
    live.timer = setTimeout(connect, live.delay);
    live.delay = Math.min(live.delay * 2, 5000);
  };
}
function reconnectSoon() { if (!live.ws) { live.delay = 500; connect(); } }
function setConn(on) { const c = $('conn'); c.textContent = on ? 'live' : 'reconnecting…'; c.className = on ? 'conn on' : 'conn off'; }

function onMessage(m) {
  if (m.type === 'status') { live.lastSeq = Math.max(live.lastSeq, m.seq || 0); view?.onStatus?.(m); }
  else if (m.type === 'log') live.logs.get(m.job)?.onLog(m);
  else if (m.type === 'eof') live.logs.get(m.job)?.onEof();
  else if (m.type === 'subscribed' && m.channel === 'status' && !live.lastSeq) live.lastSeq = m.seq || 0;
  else if (m.type === 'error' && m.code === 'log_restarted') live.logs.get(m.job)?.onRestart();
  else if (m.type === 'error') console.warn('drover websocket:', m.code, m.message);
}

/** A followed log: keeps its byte offset so a reconnect resumes with no gap and no duplicate. */
function followLog(job, pre, state) {
  const t = { offset: 0, chars: 0, asked: 0 };
  const atBottom = () => pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 24;
  t.subscribe = () => wsSend({ op: 'subscribe', channel: 'logs', job, offset: t.offset });
  t.onLog = (m) => {
    if (m.offset + m.bytes <= t.offset) return; // had it already
    if (m.offset !== t.offset) { // a gap: ask again from where we are (once in a while)
      if (Date.now() - t.asked > 1000) { t.asked = Date.now(); t.subscribe(); }
      return;
    }
    const stick = atBottom();
    pre.append(m.data);
    t.offset += m.bytes; t.chars += m.data.length;
    if (t.chars > 2_000_000) trim();
    state.textContent = `live · ${t.offset} bytes`;
    if (stick) pre.scrollTop = pre.scrollHeight;
  };
  const trim = () => {
    while (t.chars > 1_000_000 && pre.firstChild) { t.chars -= pre.firstChild.textContent.length; pre.firstChild.remove(); }
    pre.prepend(h('span', { class: 'muted' }, '… earlier output not shown here (use Download) …\n'));
  };
  t.onEof = () => { t.eof = true; state.textContent = `end of log · ${t.offset} bytes`; };
  t.onDisconnect = () => { if (!t.eof) state.textContent = `connection lost · resumes from byte ${t.offset}`; };
  t.onRestart = () => { pre.replaceChildren(); t.offset = 0; t.chars = 0; t.eof = false; state.textContent = 'a new attempt started; log restarted'; };
  live.logs.set(job, t);
  t.subscribe();
  return () => { live.logs.delete(job); wsSend({ op: 'unsubscribe', channel: 'logs', job }); };
}

// ---- views: each returns {el, onStatus?, onReconnect?, dispose?} ----

let view = null;

function askToken(msg = '') {
  if (view?.tokenForm) { if (msg) view.tokenForm.querySelector('.error')?.replaceChildren(msg); return; } // already asking
  view?.dispose?.();
  const input = h('input', { type: 'password', id: 'token', autocomplete: 'off', placeholder: 'drv_…', required: true });
  const form = h('form', { class: 'card token', onsubmit: async (ev) => {
    ev.preventDefault();
    token = input.value.trim();
    localStorage.setItem('drover.token', token);
    const old = live.ws;
    live.ws = null; live.lastSeq = 0;
    old?.close();
    view = null; // no longer asking
    connect(); await pollHealth(); route();
  } },
  h('h1', {}, 'API token'),
  h('p', {}, 'Paste a drover token (the admin token is in ', h('code', {}, '<data-dir>/admin.token'), '; ', h('code', {}, 'drover token create --role reader'), ' makes a read-only one). It stays in this browser.'),
  h('p', { class: 'error' }, msg), input, ' ', h('button', { type: 'submit' }, 'Save'));
  view = { el: form, tokenForm: form };
  $('main').replaceChildren(form);
  input.focus();
}

async function runsView(q) {
  const tbody = h('tbody');
  const rows = new Map();
  const row = (r) => {
    const tr = h('tr', { 'data-id': r.id }, h('td', {}, h('a', { href: `#/run/${r.id}` }, r.id)), h('td', {}, r.pipeline),
      h('td', {}, badge(r.status)), h('td', {}, r.trigger?.kind ?? ''), h('td', {}, when(r.created_at)), h('td', {}, took(r.started_at, r.ended_at)));
    rows.set(r.id, tr);
    return tr;
  };
  const load = async () => {
    const page = await get(`/runs?limit=50${q.group ? `&group=${encodeURIComponent(q.group)}` : ''}`);
    rows.clear();
    tbody.replaceChildren(...page.items.map(row));
    if (!page.items.length) tbody.append(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No runs yet. Submit one with drover submit FILE.')));
  };
  let pending = 0;
  const later = () => { clearTimeout(pending); pending = setTimeout(() => load().catch(() => {}), 300); };
  await load();
  const el = h('section', {}, h('h1', {}, q.group ? `Runs of group ${q.group}` : 'Runs'),
    h('div', { class: 'scroll' }, h('table', { class: 'runs' }, h('thead', {}, h('tr', {}, ['Run', 'Pipeline', 'Status', 'Trigger', 'Created', 'Took'].map((t) => h('th', {}, t)))), tbody)));
  return {
    el,
    onStatus: (e) => { if (e.kind !== 'run') return; const tr = rows.get(e.id); if (tr) setBadge(tr, e.status); if (!tr || TERMINAL.has(e.status)) later(); },
    onReconnect: later,
    dispose: () => clearTimeout(pending),
  };
}

async function runView(id) {
  const el = h('section', { class: 'run' });
  let run = null, group = null, svg = null;
  const load = async () => {
    run = await get(`/runs/${id}`);
    group = run.group_id ? await get(`/groups/${run.group_id}`).catch(() => null) : null;
    svg = drawDag((run.stages || []).map((s) => ({ id: s.id, name: s.name, status: s.status, needs: s.needs, jobs: s.jobs })));
    el.replaceChildren(
      h('h1', {}, `Run ${run.id} `, badge(run.status)),
      h('dl', { class: 'facts' },
        h('dt', {}, 'pipeline'), h('dd', {}, `${run.pipeline} v${run.pipeline_version}`),
        h('dt', {}, 'params'), h('dd', {}, h('code', {}, JSON.stringify(run.params ?? {}))),
        h('dt', {}, 'trigger'), h('dd', {}, run.trigger?.kind ?? '—'),
        h('dt', {}, 'created'), h('dd', {}, when(run.created_at)),
        h('dt', {}, 'took'), h('dd', {}, took(run.started_at, run.ended_at)),
        run.message ? [h('dt', {}, 'reason'), h('dd', {}, `${run.reason}: ${run.message}`)] : null),
      TERMINAL.has(run.status) ? null : h('div', { class: 'actions' }, actionButton('Cancel run', `/runs/${id}/cancel`, load, 'danger')),
      group && (group.sweep || group.total > 1) ? groupBox(group, load) : null,
      h('h2', {}, 'Graph'), h('div', { class: 'scroll dagwrap' }, svg));
  };
  await load();
  return {
    el,
    onStatus: (e) => {
      if (e.kind === 'group' && group && e.id === group.id) { load().catch(() => {}); return; }
      if (e.run_id !== id) return;
      if (e.kind === 'run') { setBadge(el.querySelector('h1'), e.status); if (TERMINAL.has(e.status)) load().catch(() => {}); }
      else if (!paintDag(svg, e.id, e.status)) load();
    },
    onReconnect: () => load().catch(() => {}),
  };
}

function groupBox(g, after) {
  const c = g.counts || {};
  return h('div', { class: 'group card' }, h('strong', {}, `Group ${g.id} `), badge(g.status),
    h('span', { class: 'muted' }, ` ${g.total} run${g.total === 1 ? '' : 's'}: ${c.running ?? 0} running, ${c.queued ?? 0} queued, ${c.succeeded ?? 0} succeeded, ${c.failed ?? 0} failed `),
    h('a', { href: `#/runs?group=${g.id}` }, 'runs'), ' ', groupButtons(g.id, g.status, after));
}

function groupButtons(gid, status, after) {
  return h('span', { class: 'actions' },
    status === 'paused' ? actionButton('Resume', `/groups/${gid}/resume`, after) : null,
    status === 'running' ? actionButton('Pause', `/groups/${gid}/pause`, after) : null,
    TERMINAL.has(status) ? null : actionButton('Cancel', `/groups/${gid}/cancel`, after, 'danger'));
}

async function jobView(id) {
  const el = h('section', { class: 'job' });
  const pre = h('pre', { class: 'log', id: 'log', tabindex: 0 });
  const state = h('span', { class: 'muted', id: 'log-state' }, 'connecting…');
  const why = h('div', { id: 'why' });
  const head = h('div');
  let job = null, whyTimer = 0;
  const loadWhy = async () => {
    clearTimeout(whyTimer);
    if (!job || TERMINAL.has(job.status) || job.status === 'running') { why.replaceChildren(); return; }
    const w = await get(`/jobs/${id}/why`).catch(() => null);
    why.replaceChildren(w?.blocked ? h('div', { class: 'card why' }, h('strong', {}, 'Why is it not running?'),
      h('ul', {}, w.reasons.map((r) => h('li', {}, h('code', {}, r.code), ' ', r.message ?? '')))) : h('span'));
    whyTimer = setTimeout(loadWhy, 3000);
  };
  const load = async () => {
    job = await get(`/jobs/${id}`);
    head.replaceChildren(
      h('h1', {}, `${job.stage}/${job.name} `, badge(job.status)),
      h('dl', { class: 'facts' },
        h('dt', {}, 'job'), h('dd', {}, job.id), h('dt', {}, 'run'), h('dd', {}, h('a', { href: `#/run/${job.run_id}` }, job.run_id)),
        h('dt', {}, 'executor'), h('dd', {}, job.executor), h('dt', {}, 'attempt'), h('dd', {}, String(job.attempt)),
        h('dt', {}, 'exit code'), h('dd', {}, job.exit_code ?? '—'), h('dt', {}, 'took'), h('dd', {}, took(job.started_at, job.ended_at)),
        job.message ? [h('dt', {}, 'reason'), h('dd', {}, `${job.reason}: ${job.message}`)] : null),
      h('div', { class: 'scroll' }, h('table', { class: 'cmds' }, h('thead', {}, h('tr', {}, ['#', 'command', 'exit', 'log'].map((t) => h('th', {}, t)))),
        h('tbody', {}, (job.commands || []).map((c) => h('tr', {}, h('td', {}, c.index), h('td', {}, h('code', {}, c.run)), h('td', {}, c.exit_code ?? '—'), h('td', {}, `${c.log_size ?? 0} B`)))))),
      h('div', { class: 'actions' }, TERMINAL.has(job.status) ? null : actionButton('Cancel job', `/jobs/${id}/cancel`, load, 'danger'),
        h('button', { type: 'button', onclick: download }, 'Download log')));
    await loadWhy();
  };
  const download = async () => {
    const res = await fetch(`/api/v1/jobs/${id}/logs`, { headers: { authorization: `Bearer ${token}` } });
    const a = h('a', { href: URL.createObjectURL(await res.blob()), download: `${id}.log` });
    a.click(); setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  };
  await load();
  el.append(head, why, h('h2', {}, 'Log ', state), pre);
  const stop = followLog(id, pre, state);
  let pending = 0;
  return {
    el,
    onStatus: (e) => { if (e.kind === 'job' && e.id === id) { setBadge(head.querySelector('h1'), e.status); clearTimeout(pending); pending = setTimeout(() => load().catch(() => {}), 200); } },
    onReconnect: () => load().catch(() => {}),
    dispose: () => { stop(); clearTimeout(whyTimer); clearTimeout(pending); },
  };
}

/** Allocation queues (pilot jobs on Slurm): each queue's state and why, and its latest allocations. */
function allocQueues(queues) {
  if (!queues.length) return [];
  return [h('h2', {}, 'Allocation queues'), ...queues.map((aq) => h('div', { class: 'alloc-queue', 'data-queue': aq.name },
    h('p', {}, h('strong', {}, aq.name), ' ', badge(aq.status), ` pool ${aq.pool} · ${secs(aq.time_ms)} · max ${aq.max_allocs} alive, ${aq.backlog} pending · ${aq.sbatch_calls} sbatch · ${aq.jobs_run} jobs`,
      aq.reason ? h('span', { class: 'muted' }, ` — ${aq.reason}`) : ''),
    h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ['allocation', 'status', 'slurm id', 'node', 'age', 'jobs', 'reason'].map((t) => h('th', {}, t)))),
      h('tbody', {}, aq.allocations.length ? aq.allocations.map((a) => h('tr', { 'data-id': a.id }, h('td', {}, a.id), h('td', {}, badge(a.status)), h('td', {}, a.slurm_id ?? '—'),
        h('td', {}, a.node ?? '—'), h('td', {}, secs(a.age_s * 1000)), h('td', {}, a.jobs_run), h('td', { class: 'muted' }, a.message ?? a.reason ?? '')))
        : h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No allocations yet: one is submitted while jobs of the pool wait.')))))))];
}

async function queueView() {
  const el = h('section', { class: 'queue' });
  const paint = (q) => {
    const d = q.daemon || {};
    el.replaceChildren(h('h1', {}, 'Queue'),
      h('dl', { class: 'facts' }, h('dt', {}, 'running'), h('dd', { id: 'q-running' }, `${q.running} of ${q.max_parallel}`), h('dt', {}, 'queued'), h('dd', { id: 'q-queued' }, String(q.queued)),
        h('dt', {}, 'daemon'), h('dd', {}, `pid ${d.pid} · v${d.version} · up since ${when(d.started_at)}`),
        h('dt', {}, 'heartbeat'), h('dd', { id: 'q-heartbeat' }, `${when(d.heartbeat_at)} (${secs(Math.max(0, Date.now() + health.skew - Date.parse(d.heartbeat_at)))} ago)`)),
      h('h2', {}, 'Executors'), h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ['executor', 'slots', 'used'].map((t) => h('th', {}, t)))),
        h('tbody', {}, Object.entries(q.executors || {}).map(([n, x]) => h('tr', {}, h('td', {}, n), h('td', {}, x.slots ?? (x.gpus ? x.gpus.length : '—')), h('td', {}, x.used ?? '—')))))),
      h('h2', {}, 'Groups'), h('div', { class: 'scroll' }, h('table', { class: 'groups' }, h('thead', {}, h('tr', {}, ['group', 'status', 'running', 'queued', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, (q.groups || []).length ? q.groups.map((g) => h('tr', { 'data-id': g.id }, h('td', {}, h('a', { href: `#/runs?group=${g.id}` }, g.id)), h('td', {}, badge(g.status)),
          h('td', {}, g.running), h('td', {}, g.queued), h('td', {}, groupButtons(g.id, g.status, pollHealth)))) : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'Nothing running or queued.'))))),
      ...allocQueues(q.alloc_queues || []));
  };
  paint(health.queue ?? (await get('/queue')));
  health.listeners.add(paint);
  return { el, onStatus: (e) => { if (e.kind === 'group') pollHealth(); }, dispose: () => health.listeners.delete(paint) };
}

// ---- router ----

async function route() {
  if (!token) return askToken();
  const [path, qs] = (location.hash.slice(1) || '/runs').split('?');
  const q = Object.fromEntries(new URLSearchParams(qs || ''));
  const [, kind, id] = path.split('/');
  const make = kind === 'run' && id ? () => runView(id) : kind === 'job' && id ? () => jobView(id) : kind === 'queue' ? queueView : () => runsView(q);
  view?.dispose?.(); view = null;
  const at = location.hash;
  try {
    const v = await make();
    if (location.hash !== at) { v.dispose?.(); return; } // the user moved on meanwhile
    view = v;
    $('main').replaceChildren(v.el);
  } catch (e) {
    if (e.status !== 401) $('main').replaceChildren(h('p', { class: 'error' }, `Could not load this page: ${e.message}`), h('button', { type: 'button', onclick: route }, 'Retry'));
  }
}

window.addEventListener('hashchange', route);
$('token-btn').addEventListener('click', () => askToken());
setInterval(pollHealth, 2000);
setInterval(paintHealth, 1000);
pollHealth();
connect();
route();
