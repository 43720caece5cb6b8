// The queue page (#/queue): what runs and waits, the executors (GPUs and the jobs holding them), the
// groups with their buttons, allocation queues with their allocations, and the daemon's heartbeat.
// Repainted on every health poll (2 s).
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
        h('tbody', {}, gpus.map((g) => h('tr', {}, h('td', {}, `${g.executor}:${g.index}`), h('td', {}, show(g.name)), h('td', {}, g.job ? h('a', { href: `#/job/${g.job}` }, g.job) : 'free'))))))] : null,
      allocQueues(q.alloc_queues || []));
  };
  paint(health.queue ?? (await get('/queue')));
  health.listeners.add(paint);
  return { el, onStatus: (e) => { if (e.kind === 'group') pollHealth(); }, dispose: () => health.listeners.delete(paint) };
}

/** Allocation queues (pilot jobs on Slurm): each queue's shape, state and why, and its latest allocations. */
function allocQueues(queues) {
  if (!queues.length) return null;
  return [h('h2', {}, 'Allocation queues'), ...queues.map((aq) => h('div', { class: 'alloc-queue', 'data-queue': aq.name },
    h('p', {}, h('strong', {}, aq.name), ' ', badge(aq.status), h('span', { class: 'muted' }, ` pool ${aq.pool} · ${secs(aq.time_ms)} · max ${aq.max_allocs} alive, ${aq.backlog} pending ${aq.shape ? ` · ${aq.shape.cpus} CPU / ${aq.shape.gpus} GPU per node${aq.node ? ` (node: ${aq.node.cpus} CPU, ${aq.node.gpus} GPU)` : ''}` : ''} · ${aq.sbatch_calls} sbatch · ${aq.jobs_run} jobs`),
      aq.reason ? h('span', { class: 'wrap' }, ` — ${aq.reason}`) : null),
    h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ['allocation', 'status', 'slurm id', 'node', 'age', 'jobs', 'reason'].map((t) => h('th', {}, t)))),
      h('tbody', {}, aq.allocations.length ? aq.allocations.map((a) => h('tr', { 'data-id': a.id }, h('td', {}, a.id), h('td', {}, badge(a.status)), h('td', {}, show(a.slurm_id)),
        h('td', {}, show(a.node)), h('td', {}, secs(a.age_s * 1000)), h('td', {}, String(a.jobs_run)), h('td', { class: 'wrap' }, a.message ?? a.reason ?? '')))
        : h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No allocations yet: one is submitted while jobs of the pool wait.')))))))];
}
