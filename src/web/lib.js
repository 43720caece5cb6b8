// What every view of the page shares: element building, formatting, the token and HTTP calls,
// the health poll (GET /queue) and the one live WebSocket. The socket is opened with a one-time
// ticket (POST /ws-ticket, API.md §3), never with the token in its URL; it is re-opened and
// re-subscribed (status from the last event seq, logs from the last byte offset) whenever it drops.
// Not here: the views (runs.js, group.js, run.js, job.js, queue.js) and the router (app.js).

export const STALE_MS = 15_000;
export const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'skipped']);
export const $ = (id) => document.getElementById(id);
/** the current view ({el, onStatus?, onReconnect?, dispose?}) and the token form hook (set by app.js) */
export const state = { view: null, askToken: () => {} };

export function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'style') Object.assign(e.style, v); // an object: the CSP refuses style attributes, not CSSOM
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) e.append(k);
  return e;
}
/** Replaces an element's children: arrays flattened, null/undefined/false left out (never the text "null"). */
export const fill = (e, ...kids) => e.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
export const badge = (status) => h('span', { class: `badge st-${status}`, 'data-status': status }, status);
export const setBadge = (root, status) => root?.querySelector('.badge')?.replaceWith(badge(status));
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
export const secs = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms < 60_000 ? `${Math.round(ms / 1000)} s` : ms < 3_600_000 ? `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s` : `${(ms / 3_600_000).toFixed(1)} h`);
export const took = (a, b) => (a ? secs(Math.max(0, (b ? Date.parse(b) : Date.now()) - Date.parse(a))) : '—');
export const bytes = (n) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);
/** a value for display: never the text "null" */
export const show = (v) => (v === null || v === undefined || v === '' ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));
export const go = (hash) => { location.hash = hash; };

export function flash(msg, bad = false) {
  const f = $('flash');
  f.textContent = msg; f.className = bad ? 'flash bad' : 'flash'; f.hidden = false;
  clearTimeout(flash.t); flash.t = setTimeout(() => { f.hidden = true; }, 4000);
}

/** An in-page confirmation (a modal <dialog>): resolves true on the confirming button only. */
export function confirmBox(title, text, yes) {
  return new Promise((resolve) => {
    const d = h('dialog', { class: 'confirm', id: 'confirm' });
    const done = (v) => { d.close(); d.remove(); resolve(v); };
    d.append(h('h2', {}, title), h('p', {}, text),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'danger', 'data-confirm': 'yes', onclick: () => done(true) }, yes),
        h('button', { type: 'button', 'data-confirm': 'no', onclick: () => done(false) }, 'Keep them')));
    d.addEventListener('cancel', (ev) => { ev.preventDefault(); done(false); });
    document.body.append(d);
    d.showModal();
  });
}

// ---- token and HTTP ----

export const auth = { token: localStorage.getItem('drover.token') || '' };
export class ApiError extends Error { constructor(status, message) { super(message); this.status = status; } }

export async function api(method, path, body, timeoutMs = 10_000) {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), timeoutMs);
  let res;
  try {
    res = await fetch(`/api/v1${path}`, { method, signal: ctl.signal, headers: { authorization: `Bearer ${auth.token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  } catch { throw new ApiError(0, 'the server is unreachable'); } finally { clearTimeout(t); }
  const j = await res.json().catch(() => null);
  if (res.status === 401) { state.askToken('The server refused this token.'); throw new ApiError(401, 'unauthorized'); }
  if (!res.ok) throw new ApiError(res.status, j?.error?.message || `${res.status} ${res.statusText}`);
  return { body: j, date: res.headers.get('date') };
}
export const get = async (path) => (await api('GET', path)).body;
/** text (a log), with its X-Log-Size */
export async function getText(path) {
  const res = await fetch(`/api/v1${path}`, { headers: { authorization: `Bearer ${auth.token}` } });
  if (!res.ok) throw new ApiError(res.status, `${res.status} ${res.statusText}`);
  return { text: await res.text(), size: Number(res.headers.get('x-log-size') ?? 0) };
}

/** A button that POSTs (after `ask()` agrees, when given) and then refreshes; it says what went wrong. */
export function actionButton(label, path, after, cls = '', ask = null) {
  const b = h('button', { type: 'button', class: cls, 'data-action': path, onclick: async () => {
    if (ask && !(await ask())) return;
    b.disabled = true;
    try { await api('POST', path); flash(`${label}: done`); await after?.(); pollHealth(); } catch (e) { flash(`${label}: ${e.message}`, true); } finally { b.disabled = false; }
  } }, label);
  return b;
}

/** Pause/Resume and Cancel of a group; Cancel first says how many runs it stops and asks. */
export function groupButtons(id, status, after) {
  const ask = async () => {
    const g = await get(`/groups/${id}`).catch(() => null);
    const c = g?.counts ?? {};
    const stops = (c.queued ?? 0) + (c.running ?? 0);
    return confirmBox(`Cancel group ${id}?`, `This stops ${stops} run${stops === 1 ? '' : 's'} (${c.running ?? 0} running, ${c.queued ?? 0} queued). ${(c.succeeded ?? 0) + (c.failed ?? 0) + (c.canceled ?? 0)} finished run(s) are kept as they are.`, `Cancel ${stops} run${stops === 1 ? '' : 's'}`);
  };
  return h('span', { class: 'group-actions actions' },
    status === 'paused' ? actionButton('Resume', `/groups/${id}/resume`, after) : TERMINAL.has(status) ? null : actionButton('Pause', `/groups/${id}/pause`, after),
    TERMINAL.has(status) ? null : actionButton('Cancel group', `/groups/${id}/cancel`, after, 'danger', ask));
}

const ORDER = ['succeeded', 'failed', 'running', 'queued', 'canceled'];
/** A stacked bar of a group's run counts, with a legend that names every count (0s included). */
export function progress(counts, total) {
  const n = total || ORDER.reduce((s, k) => s + (counts[k] ?? 0), 0) || 1;
  return h('div', { class: 'progress-wrap' },
    h('div', { class: 'progress', role: 'img', 'aria-label': ORDER.map((k) => `${counts[k] ?? 0} ${k}`).join(', ') },
      ORDER.filter((k) => counts[k]).map((k) => h('span', { class: `seg st-${k}`, 'data-status': k, style: { width: `${(100 * counts[k]) / n}%` } }))),
    h('span', { class: 'legend' }, ORDER.map((k) => h('span', { class: `lg st-${k}`, 'data-count': k }, `${counts[k] ?? 0} ${k}`))));
}

// ---- health: GET /queue every 2 s; a banner when the server is unreachable or its heartbeat is stale ----

export const health = { queue: null, heartbeatAt: null, skew: 0, failingSince: 0, listeners: new Set() };

export async function pollHealth() {
  if (!auth.token || state.view?.tokenForm) return; // nothing to ask with, or the token was refused
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

export function paintHealth() {
  const age = health.heartbeatAt ? Date.now() + health.skew - Date.parse(health.heartbeatAt) : null;
  $('beat').textContent = age === null ? '' : `♥ ${secs(Math.max(0, age))} ago`;
  $('beat').title = health.heartbeatAt ? `the daemon's last heartbeat: ${when(health.heartbeatAt)}` : '';
  const msgs = [];
  if (health.failingSince) msgs.push(`Server unreachable since ${new Date(health.failingSince).toLocaleTimeString()}; retrying. What you see may be out of date.`);
  if (age !== null && age > STALE_MS) msgs.push(`The daemon's heartbeat is stale: last beat ${secs(age)} ago (${when(health.heartbeatAt)}).`);
  const b = $('banner');
  b.hidden = msgs.length === 0;
  b.textContent = msgs.join(' ');
  $('beat').classList.toggle('stale', msgs.length > 0);
}

// ---- live: one WebSocket (opened with a one-time ticket), re-subscribed after every reconnect ----

export const live = { ws: null, lastSeq: 0, logs: new Map(), delay: 500, timer: 0, opens: 0, gen: 0, asking: false };

export function wsSend(o) { if (live.ws?.readyState === 1) live.ws.send(JSON.stringify(o)); }

function retryLater() {
  live.timer = setTimeout(connect, live.delay);
  live.delay = Math.min(live.delay * 2, 5000);
}

export async function connect() {
  clearTimeout(live.timer);
  if (!auth.token || live.ws || live.asking) return;
  const gen = live.gen;
  live.asking = true;
  let ticket;
  try { ticket = (await api('POST', '/ws-ticket', undefined, 4000)).body.ticket; } catch { ticket = null; } finally { live.asking = false; }
  if (gen !== live.gen || live.ws) return; // the token changed meanwhile
  if (!ticket) { setConn(false); retryLater(); return; }
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws?ticket=${encodeURIComponent(ticket)}`);
  live.ws = ws;
  ws.onopen = () => {
    live.delay = 500;
    setConn(true);
    wsSend(live.lastSeq ? { op: 'subscribe', channel: 'status', since: live.lastSeq } : { op: 'subscribe', channel: 'status' });
    for (const t of live.logs.values()) t.subscribe();
    if (live.opens++ > 0) state.view?.onReconnect?.();
  };
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
  ws.onclose = () => {
    if (live.ws !== ws) return; // replaced (a new token)
    live.ws = null;
    setConn(false);
    for (const t of live.logs.values()) t.onDisconnect();
    retryLater();
  };
}
/** A new token: drop the socket opened with the old one and open another. */
export function resetLive() {
  const old = live.ws;
  live.gen++; live.ws = null; live.lastSeq = 0;
  old?.close();
}
function reconnectSoon() { if (!live.ws) { live.delay = 500; connect(); } }
function setConn(on) { const c = $('conn'); c.textContent = on ? 'live' : 'reconnecting…'; c.className = on ? 'conn on' : 'conn off'; }

function onMessage(m) {
  if (m.type === 'status') { live.lastSeq = Math.max(live.lastSeq, m.seq || 0); state.view?.onStatus?.(m); }
  else if (m.type === 'log') live.logs.get(m.job)?.onLog(m);
  else if (m.type === 'eof') live.logs.get(m.job)?.onEof();
  else if (m.type === 'subscribed' && m.channel === 'status' && !live.lastSeq) live.lastSeq = m.seq || 0;
  else if (m.type === 'error' && m.code === 'log_restarted') live.logs.get(m.job)?.onRestart();
  else if (m.type === 'error') console.warn('drover websocket:', m.code, m.message);
}

/** A followed log: keeps its byte offset so a reconnect resumes with no gap and no duplicate. */
export function followLog(job, pre, stateEl, onSize = () => {}) {
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
    stateEl.textContent = `live · ${bytes(t.offset)}`;
    onSize(t.offset);
    if (stick) pre.scrollTop = pre.scrollHeight;
  };
  const trim = () => {
    while (t.chars > 1_000_000 && pre.firstChild) { t.chars -= pre.firstChild.textContent.length; pre.firstChild.remove(); }
    pre.prepend(h('span', { class: 'muted' }, '… earlier output not shown here (use Download) …\n'));
  };
  t.onEof = () => { t.eof = true; stateEl.textContent = `end of log · ${bytes(t.offset)}`; onSize(t.offset); };
  t.onDisconnect = () => { if (!t.eof) stateEl.textContent = `connection lost · resumes from byte ${t.offset}`; };
  t.onRestart = () => { pre.replaceChildren(); t.offset = 0; t.chars = 0; t.eof = false; stateEl.textContent = 'a new attempt started; log restarted'; };
  live.logs.set(job, t);
  t.subscribe();
  return () => { live.logs.delete(job); wsSend({ op: 'unsubscribe', channel: 'logs', job }); };
}
