// A job's page (#/job/ID): facts with a live elapsed time and log size, one collapsible section per
// command (exit code, duration, its own log on opening), `why` while it waits, its attempts and their
// reasons, and the whole log streamed live over the WebSocket (resumed from its byte offset).
import { h, fill, get, getText, auth, badge, setBadge, when, took, bytes, show, actionButton, followLog, TERMINAL } from './lib.js';

function commandSection(job, c) {
  const pre = h('pre', { class: 'log cmdlog' }, '');
  // while the job runs, its first command without an exit code is the one running
  const running = job.status === 'running' && c.index === (job.commands ?? []).findIndex((x) => x.exit_code === null || x.exit_code === undefined);
  const state = c.exit_code === null || c.exit_code === undefined ? (running ? 'running' : job.status === 'running' ? 'not yet' : 'did not run') : `exit ${c.exit_code}`;
  const d = h('details', { class: `cmd ${c.exit_code ? (c.allow_failure ? 'allowed' : 'bad') : ''}`, 'data-index': c.index, ontoggle: async () => {
    if (!d.open || d.dataset.loaded) return;
    d.dataset.loaded = '1';
    const log = await getText(`/jobs/${job.id}/logs?command=${c.index}`).catch((e) => ({ text: `(could not read: ${e.message})` }));
    pre.textContent = log.text || '(no output)';
  } },
  h('summary', {}, h('span', { class: 'idx' }, `#${c.index}`), ' ', h('code', {}, c.run), ' ',
    h('span', { class: `cstate ${c.exit_code ? 'bad' : ''}` }, state), c.allow_failure ? h('span', { class: 'muted' }, ' (allowed to fail)') : null,
    h('span', { class: 'muted' }, ` · ${c.started_at ? took(c.started_at, c.ended_at) : running ? took(c.index === 0 ? job.started_at : job.commands[c.index - 1]?.ended_at, null) : '—'} · ${bytes(c.log_size ?? 0)}`)),
  pre);
  return d;
}

export async function jobView(id) {
  const el = h('section', { class: 'job' });
  const pre = h('pre', { class: 'log', id: 'log', tabindex: 0 });
  const state = h('span', { class: 'muted', id: 'log-state' }, 'connecting…');
  const why = h('div', { id: 'why' });
  const head = h('div');
  const elapsed = h('dd', { id: 'job-took' }), size = h('dd', { id: 'job-log-size' });
  let job = null, whyTimer = 0, logBytes = 0;
  const tick = () => {
    if (!job) return;
    elapsed.textContent = job.started_at ? took(job.started_at, job.ended_at) + (job.ended_at ? '' : ' (running)') : job.status === 'running' ? 'starting' : 'not started';
    const stored = (job.commands ?? []).reduce((n, c) => n + (c.log_size ?? 0), 0);
    size.textContent = bytes(Math.max(stored, logBytes));
  };
  const clock = setInterval(tick, 500);
  const loadWhy = async () => {
    clearTimeout(whyTimer);
    if (!job || TERMINAL.has(job.status) || job.status === 'running') { why.replaceChildren(); return; }
    const w = await get(`/jobs/${id}/why`).catch(() => null);
    why.replaceChildren(w?.blocked ? h('div', { class: 'card why' }, h('strong', {}, 'Why is it not running?'),
      h('ul', {}, w.reasons.map((r) => h('li', {}, h('code', {}, r.code), ' ', r.message ?? '')))) : h('span'));
    whyTimer = setTimeout(loadWhy, 3000);
  };
  const attempts = () => (job.attempts ?? []).length > 1 || (job.attempts ?? []).some((a) => a.reason) ? [h('h2', {}, 'Attempts'),
    h('div', { class: 'scroll' }, h('table', { class: 'attempts' }, h('thead', {}, h('tr', {}, ['#', 'status', 'exit', 'reason', 'started', 'took'].map((t) => h('th', {}, t)))),
      h('tbody', {}, job.attempts.map((a) => h('tr', { 'data-attempt': a.attempt }, h('td', {}, a.attempt), h('td', {}, badge(a.status)), h('td', {}, show(a.exit_code)),
        h('td', { class: 'wrap' }, a.reason ? `${a.reason}${a.message ? `: ${a.message}` : ''}` : '—'), h('td', {}, when(a.started_at)), h('td', {}, took(a.started_at, a.ended_at)))))))] : null;
  const load = async () => {
    job = await get(`/jobs/${id}`);
    fill(head,
      h('h1', {}, `${job.stage}/${job.name} `, badge(job.status)),
      h('dl', { class: 'facts' },
        h('dt', {}, 'run'), h('dd', {}, h('a', { href: `#/run/${job.run_id}` }, job.run_id)), h('dt', {}, 'job'), h('dd', {}, job.id),
        job.matrix ? [h('dt', {}, 'matrix'), h('dd', {}, h('code', {}, Object.entries(job.matrix).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')))] : null,
        h('dt', {}, 'executor'), h('dd', {}, show(job.executor)), h('dt', {}, 'attempt'), h('dd', {}, show(job.attempt)),
        h('dt', {}, 'exit code'), h('dd', { id: 'job-exit' }, show(job.exit_code)), h('dt', {}, 'took'), elapsed, h('dt', {}, 'log size'), size,
        job.reason || job.message ? [h('dt', {}, 'reason'), h('dd', {}, `${show(job.reason)}${job.message ? `: ${job.message}` : ''}`)] : null),
      h('div', { class: 'actions' }, TERMINAL.has(job.status) ? null : actionButton('Cancel job', `/jobs/${id}/cancel`, load, 'danger'),
        h('button', { type: 'button', onclick: download }, 'Download log')),
      h('h2', {}, 'Commands'), cmds,
      attempts());
    paintCommands();
    tick();
    await loadWhy();
  };
  // one section per command, redrawn only when its state changes (an open section stays open)
  const cmds = h('div', { class: 'cmds' }), sections = new Map();
  const paintCommands = () => {
    const keep = new Map();
    const current = job.status === 'running' ? (job.commands ?? []).findIndex((x) => x.exit_code === null || x.exit_code === undefined) : -1;
    for (const c of job.commands ?? []) {
      const key = `${job.status}|${c.exit_code}|${c.ended_at}|${job.attempt}|${c.index === current}`;
      const old = sections.get(c.index);
      keep.set(c.index, old && old.key === key ? old : { key, el: commandSection(job, c) });
    }
    sections.clear();
    for (const [i, v] of keep) sections.set(i, v);
    fill(cmds, [...sections.values()].map((v) => v.el));
  };
  // while it runs, its commands' exit codes come from a light re-read every 2 s (no event marks a command's end)
  const poll = setInterval(async () => {
    if (!job || job.status !== 'running') return;
    try { const j = await get(`/jobs/${id}`); if (j.status === job.status && j.attempt === job.attempt) { job = { ...job, commands: j.commands }; paintCommands(); tick(); } } catch { /* the next status event reloads */ }
  }, 2000);
  const download = async () => {
    const res = await fetch(`/api/v1/jobs/${id}/logs`, { headers: { authorization: `Bearer ${auth.token}` } });
    const a = h('a', { href: URL.createObjectURL(await res.blob()), download: `${id}.log` });
    a.click(); setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  };
  await load();
  el.append(head, why, h('h2', {}, 'Log ', state), pre);
  const stop = followLog(id, pre, state, (n) => { logBytes = n; tick(); });
  let pending = 0;
  return {
    el,
    onStatus: (e) => { if (e.kind === 'job' && e.id === id) { setBadge(head.querySelector('h1'), e.status); clearTimeout(pending); pending = setTimeout(() => load().catch(() => {}), 200); } },
    onReconnect: () => load().catch(() => {}),
    dispose: () => { stop(); clearTimeout(whyTimer); clearTimeout(pending); clearInterval(clock); clearInterval(poll); },
  };
}
