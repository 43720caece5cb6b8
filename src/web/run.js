// A run's page (#/run/ID): for a failed run a summary first (the first failed job, its exit code, its
// reason and the last 20 lines of its log); the facts (no "null" anywhere); its group's progress and
// buttons; the DAG (each job in its own status colour, with duration and exit code; matrix jobs folded);
// and a timeline of its jobs (queued → started → ended) so waiting and slow steps stand out.
import { h, fill, get, getText, badge, setBadge, when, took, secs, show, actionButton, groupButtons, progress, TERMINAL } from './lib.js';
import { drawDag, paintDag, jobFacts } from './dag.js';
import { paramText } from './runs.js';

const TAIL_LINES = 20, TAIL_BYTES = 32 * 1024, TIMELINE_ROWS = 200;

/** The job that failed the run: the first (by end time) failed job that was not allowed to fail. */
export function firstFailed(run) {
  const jobs = (run.stages ?? []).flatMap((s) => s.jobs.map((j) => ({ ...j, stage: s.name })));
  const failed = jobs.filter((j) => j.status === 'failed' && !j.allow_failure);
  failed.sort((a, b) => (Date.parse(a.ended_at ?? '') || Infinity) - (Date.parse(b.ended_at ?? '') || Infinity));
  return failed[0] ?? null;
}

async function failureBox(run) {
  const j = firstFailed(run);
  if (!j) return run.message ? h('div', { class: 'card failure', id: 'failure' }, h('strong', {}, `This run ${run.status}: `), `${show(run.reason)}: ${run.message}`) : null;
  const size = (j.commands ?? []).reduce((n, c) => n + (c.log_size ?? 0), 0);
  const log = await getText(`/jobs/${j.id}/logs?offset=${Math.max(0, size - TAIL_BYTES)}`).catch(() => ({ text: '' }));
  const lines = log.text.replace(/\n$/, '').split('\n').slice(-TAIL_LINES);
  const failedCmd = (j.commands ?? []).find((c) => c.exit_code !== null && c.exit_code !== 0 && !c.allow_failure);
  return h('div', { class: 'card failure', id: 'failure' },
    h('div', { class: 'failure-head' }, h('strong', {}, 'Failed: '), h('a', { href: `#/job/${j.id}`, class: 'failed-job' }, `${j.stage}/${j.name}`),
      j.exit_code !== null && j.exit_code !== undefined ? h('span', { class: 'exit' }, ` exit code ${j.exit_code}`) : null),
    j.reason || j.message ? h('div', { class: 'reason' }, h('code', {}, show(j.reason)), j.message ? ` ${j.message}` : '') : null,
    failedCmd ? h('div', { class: 'muted' }, `command #${failedCmd.index}: `, h('code', {}, failedCmd.run)) : null,
    lines.join('').length ? h('pre', { class: 'log tail', id: 'failure-log' }, lines.join('\n')) : h('p', { class: 'muted' }, 'Its log is empty.'),
    h('a', { href: `#/job/${j.id}` }, 'Full log →'));
}

/** One bar per job from its queue time to its end (grey: waiting, colour: running), on one time axis. */
function timeline(run) {
  const jobs = (run.stages ?? []).flatMap((s) => s.jobs.map((j) => ({ ...j, stage: s.name })));
  const now = Date.now();
  const t = (iso) => (iso ? Date.parse(iso) : null);
  const starts = jobs.map((j) => t(j.queued_at) ?? t(j.started_at)).filter((x) => x !== null);
  if (!starts.length) return h('p', { class: 'muted' }, 'No job has been queued yet.');
  const t0 = Math.min(...starts, t(run.started_at) ?? Infinity);
  const t1 = Math.max(...jobs.map((j) => t(j.ended_at) ?? (j.started_at || j.queued_at ? (TERMINAL.has(j.status) ? t0 : now) : t0)), t0 + 1);
  const pct = (ms) => `${(100 * (ms - t0)) / (t1 - t0)}%`;
  const queued = jobs.filter((j) => j.queued_at || j.started_at), shown = queued.slice(0, TIMELINE_ROWS), never = jobs.length - queued.length;
  return h('div', { class: 'timeline', id: 'timeline' },
    h('div', { class: 'tl-axis muted' }, h('span', {}, '0 s'), h('span', {}, secs(t1 - t0))),
    shown.map((j) => {
      const q = t(j.queued_at) ?? t(j.started_at), s = t(j.started_at), e = t(j.ended_at) ?? (TERMINAL.has(j.status) ? s ?? q : now);
      return h('div', { class: 'tl-row', 'data-id': j.id },
        h('a', { class: 'tl-name', href: `#/job/${j.id}`, title: `${j.stage}/${j.name}` }, `${j.stage}/${j.name}`),
        h('div', { class: 'tl-track' },
          h('span', { class: 'tl-wait', title: `waited ${secs((s ?? e) - q)}`, style: { left: pct(q), width: pct(t0 + ((s ?? e) - q)) } }),
          s ? h('span', { class: `tl-run st-${j.status}`, title: `${j.status}: ${jobFacts(j)}`, style: { left: pct(s), width: pct(t0 + Math.max(e - s, (t1 - t0) / 400)) } }) : null),
        h('span', { class: 'tl-took muted' }, s ? took(j.started_at, j.ended_at) : 'waiting'));
    }),
    never ? h('p', { class: 'muted' }, `${never} job(s) never queued (skipped or canceled before their turn).`) : null,
    queued.length > shown.length ? h('p', { class: 'muted' }, `${queued.length - shown.length} more job(s) not drawn.`) : null);
}

export async function runView(id) {
  const el = h('section', { class: 'run' });
  const open = new Set(); // unfolded matrix jobs
  let run = null, group = null, svg = null;
  const load = async () => {
    run = await get(`/runs/${id}`);
    group = run.group_id ? await get(`/groups/${run.group_id}`).catch(() => null) : null;
    const failure = TERMINAL.has(run.status) && run.status !== 'succeeded' ? await failureBox(run) : null;
    svg = drawDag(run.stages ?? [], { open, onToggle: (k) => { if (open.has(k)) open.delete(k); else open.add(k); load().catch(() => {}); } });
    const params = paramText(run.params);
    fill(el,
      h('h1', {}, `Run ${run.id} `, badge(run.status)),
      failure,
      h('dl', { class: 'facts' },
        h('dt', {}, 'pipeline'), h('dd', {}, h('a', { href: `#/runs?pipeline=${encodeURIComponent(run.pipeline)}` }, run.pipeline), ` v${show(run.pipeline_version)}`),
        params ? [h('dt', {}, 'params'), h('dd', {}, h('code', {}, params))] : null,
        h('dt', {}, 'trigger'), h('dd', {}, show(run.trigger?.kind)),
        h('dt', {}, 'created'), h('dd', {}, when(run.created_at)),
        h('dt', {}, 'took'), h('dd', { id: 'run-took' }, run.started_at ? took(run.started_at, run.ended_at) : 'not started'),
        run.message && !failure ? [h('dt', {}, 'reason'), h('dd', {}, `${show(run.reason)}: ${run.message}`)] : null),
      TERMINAL.has(run.status) ? null : h('div', { class: 'actions' }, actionButton('Cancel run', `/runs/${id}/cancel`, load, 'danger')),
      group && (group.sweep || group.total > 1) ? h('div', { class: 'group card' },
        h('strong', {}, `${group.sweep ? 'Sweep' : 'Group'} `), h('a', { href: `#/group/${group.id}` }, group.id), ' ', badge(group.status),
        progress(group.counts, group.total), groupButtons(group.id, group.status, load)) : null,
      h('h2', {}, 'Graph'), h('div', { class: 'scroll dagwrap' }, svg),
      h('h2', {}, 'Timeline'), timeline(run));
  };
  await load();
  let pending = 0;
  const later = () => { clearTimeout(pending); pending = setTimeout(() => load().catch(() => {}), 400); };
  return {
    el,
    onStatus: (e) => {
      if (e.kind === 'group' && group && e.id === group.id) { later(); return; }
      if (e.run_id !== id && !(e.kind === 'run' && e.id === id)) return;
      if (e.kind === 'run') setBadge(el.querySelector('h1'), e.status);
      else paintDag(svg, e.id, e.status);
      later(); // durations, exit codes, the timeline and the failure summary come with the next read
    },
    onReconnect: later,
    dispose: () => clearTimeout(pending),
  };
}
