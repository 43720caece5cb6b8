// The queue page (#/queue): what runs and waits, the executors (GPUs and the jobs holding them), the
// groups with their buttons, and the daemon's heartbeat. Repainted on every health poll (2 s).
import { h, fill, get, badge, when, secs, show, health, pollHealth, groupButtons } from './lib.js';

export async function queueView() {
  const el = h('section', { class: 'queue' });
  const paint = (q) => {
    const d = q.daemon || {};
    const gpus = Object.entries(q.executors || {}).flatMap(([n, x]) => (Array.isArray(x.gpus) ? x.gpus.map((g) => ({ ...g, executor: n })) : []));
    fill(el, h('h1', {}, 'Queue'),
      h('dl', { class: 'facts' }, h('dt', {}, 'running'), h('dd', { id: 'q-running' }, `${q.running} of ${q.max_parallel}`), h('dt', {}, 'queued'), h('dd', { id: 'q-queued' }, String(q.queued)),
        h('dt', {}, 'daemon'), h('dd', {}, `pid ${show(d.pid)} · v${show(d.version)} · up since ${when(d.started_at)}`),
        h('dt', {}, 'heartbeat'), h('dd', { id: 'q-heartbeat' }, d.heartbeat_at ? `${when(d.heartbeat_at)} (${secs(Math.max(0, Date.now() + health.skew - Date.parse(d.heartbeat_at)))} ago)` : '—')),
      h('h2', {}, 'Groups'),
      h('div', { class: 'cards groups', id: 'groups' }, (q.groups || []).length ? q.groups.map((g) => h('div', { class: 'card grp', 'data-id': g.id },
        h('div', {}, h('a', { href: `#/group/${g.id}` }, g.id), ' ', badge(g.status), h('span', { class: 'muted' }, ` ${g.running} running · ${g.queued} queued`)),
        groupButtons(g.id, g.status, pollHealth))) : h('p', { class: 'muted' }, 'Nothing running or queued.')),
      h('h2', {}, 'Executors'), h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ['executor', 'slots', 'used', 'note'].map((t) => h('th', {}, t)))),
        h('tbody', {}, Object.entries(q.executors || {}).map(([n, x]) => h('tr', {}, h('td', {}, n), h('td', {}, show(x.slots)), h('td', {}, show(x.used)),
          h('td', { class: 'wrap' }, x.reason && !(x.gpus || []).length ? `${x.reason}${x.detail ? `: ${x.detail}` : ''}` : '')))))),
      gpus.length ? [h('h2', {}, 'GPUs'), h('div', { class: 'scroll' }, h('table', { class: 'gpus' }, h('thead', {}, h('tr', {}, ['gpu', 'name', 'held by'].map((t) => h('th', {}, t)))),
        h('tbody', {}, gpus.map((g) => h('tr', {}, h('td', {}, `${g.executor}:${g.index}`), h('td', {}, show(g.name)), h('td', {}, g.job ? h('a', { href: `#/job/${g.job}` }, g.job) : 'free'))))))] : null);
  };
  paint(health.queue ?? (await get('/queue')));
  health.listeners.add(paint);
  return { el, onStatus: (e) => { if (e.kind === 'group') pollHealth(); }, dispose: () => health.listeners.delete(paint) };
}
