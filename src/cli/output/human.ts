// Human Output: compact aligned tables and trees for people at a terminal. Ids go first
// on each line so they can be copied; decoration that scripts don't want goes to stderr.
import { age, dim, elapsed, kv, outline, status, table, time } from '../format.ts';
import { resultsTable } from './results.ts';
import { allocQueueText } from './alloc.ts';
import type { Cost, Group, Job, Output, Page, Preview, Queue, Run, Token, Why } from '../types.ts';

const w = (s: string) => void process.stdout.write(s.endsWith('\n') ? s : s + '\n');
const note = (s: string) => void process.stderr.write(s + '\n');
const why = (o: { reason?: string | null; message?: string | null }) =>
  [o.reason, o.message].filter(Boolean).join(': ');
const STALE_HEARTBEAT_MS = 30_000;
/** jobs a stage lists in a run's status before it summarises (a job-level matrix) */
const STAGE_JOBS = 20;
/** runs a group's status shows; `drover results` shows all */
const GROUP_ROWS = 50;
const count = (v: number | unknown[] | undefined) => (Array.isArray(v) ? v.length : v ?? 0);
/** `cpu 1.23s  wall 4.5s  gpu 0s  (2 attempts)` — seconds summed over finished attempts. */
export const costLine = (c: Cost) =>
  `cpu ${c.cpu_seconds}s  wall ${c.wall_seconds}s  gpu ${c.gpu_seconds}s  ${dim(`(${c.attempts} attempt${c.attempts === 1 ? '' : 's'})`)}`;

function groupCounts(g: Group): string {
  const parts = Object.entries(g.counts ?? {}).filter(([, n]) => n).map(([s, n]) => `${n} ${status(s)}`);
  return `${parts.join(', ') || 'no runs'} of ${g.total}`;
}

function runRows(items: Run[]): string {
  return table(['ID', 'STATUS', 'PIPELINE', 'CREATED', 'DURATION', 'REASON'],
    items.map((r) => [r.id, status(r.status), r.pipeline, age(r.created_at), elapsed(r), why(r)]));
}

function jobLine(j: Job): string {
  const bits = [j.id, status(j.status)];
  if (j.exit_code !== null && j.exit_code !== undefined) bits.push(`exit ${j.exit_code}`);
  if (j.attempt > 1) bits.push(`attempt ${j.attempt}`);
  if (j.started_at) bits.push(elapsed(j));
  if (j.executor && j.executor !== 'local') bits.push(dim(j.executor));
  const r = why(j);
  return `${j.name}  ${bits.join('  ')}${r ? `  ${dim(r)}` : ''}`;
}

function runTree(run: Run): string {
  let s = `run ${run.id}  ${status(run.status)}  ${run.pipeline}  ${elapsed(run)}${why(run) ? `  ${dim(why(run))}` : ''}\n`;
  if (run.group_id) s += `  group    ${run.group_id}\n`;
  if (run.params && Object.keys(run.params).length) s += `  params   ${kv(run.params)}\n`;
  if (run.trigger) s += `  trigger  ${run.trigger.kind}\n`;
  if (run.cost) s += `  cost     ${costLine(run.cost)}\n`;
  s += `  created  ${time(run.created_at)}${run.ended_at ? `  ended ${time(run.ended_at)}` : ''}\n`;
  for (const st of run.stages ?? []) {
    const needs = st.needs?.length ? dim(` (needs ${st.needs.join(', ')})`) : '';
    s += `  ${st.name}  ${status(st.status)}${needs}${st.reason ? `  ${dim(st.reason)}` : ''}\n`;
    s += stageJobs(st.jobs);
  }
  return s;
}

/** A stage's jobs; past STAGE_JOBS (a job-level matrix) a tally and the jobs that did not succeed. */
function stageJobs(jobs: Job[]): string {
  let shown = jobs, s = '';
  if (jobs.length > STAGE_JOBS) {
    const by = new Map<string, number>();
    for (const j of jobs) by.set(j.status, (by.get(j.status) ?? 0) + 1);
    s += `    ${jobs.length} jobs: ${[...by].map(([k, n]) => `${n} ${status(k)}`).join(', ')}\n`;
    const notOk = jobs.filter((j) => j.status !== 'succeeded');
    shown = notOk.slice(0, STAGE_JOBS);
    if (notOk.length > STAGE_JOBS) s += dim(`    (first ${STAGE_JOBS} of ${notOk.length} not succeeded; --json has all)\n`);
  }
  shown.forEach((j, i) => (s += `    ${i === shown.length - 1 ? '└' : '├'} ${jobLine(j)}\n`));
  return s;
}

export function humanOutput(): Output {
  return {
    submitted(res) {
      if ('run' in res) w(res.run.id);
      else w(`${res.group.id}  ${res.runs?.length ?? res.group.total} runs`);
    },
    preview(p: Preview) {
      const { runs, jobs, matrix, executors, cpu_hours, gpu_hours, ...rest } = p;
      let s = `dry run: ${runs ?? '?'} run(s), ${jobs ?? '?'} job(s); nothing was created\n`;
      if (matrix?.length) {
        s += `matrix (${matrix.length}):\n` + matrix.slice(0, 20).map((m) => `  ${kv(m)}\n`).join('');
        if (matrix.length > 20) s += `  … ${matrix.length - 20} more\n`;
      }
      if (executors) s += `executors: ${Object.entries(executors).map(([k, n]) => `${k} ${n}`).join(', ')}\n`;
      if (cpu_hours !== undefined || gpu_hours !== undefined) s += `requested: ${cpu_hours ?? 0} CPU-hours, ${gpu_hours ?? 0} GPU-hours\n`;
      if (Object.keys(rest).length) s += outline(rest);
      w(s);
    },
    finished(t) {
      if ('counts' in t) return w(`${t.id}  ${status(t.status)}  ${groupCounts(t)}  ${elapsed({ started_at: t.created_at, ended_at: t.ended_at })}`);
      w(`${t.id}  ${status(t.status)}  ${elapsed(t)}${why(t) ? `  ${why(t)}` : ''}`);
      for (const j of (t.stages ?? []).flatMap((st) => st.jobs)) {
        if (j.status === 'failed') note(`  ${j.stage}/${j.name} ${j.id} failed${j.exit_code != null ? ` (exit ${j.exit_code})` : ''}${why(j) ? `: ${why(j)}` : ''} — drover logs ${j.id}`);
      }
    },
    list(kind, page) {
      if (page.items.length === 0) note(`no ${kind}`);
      else if (kind === 'runs') w(runRows(page.items as Run[]));
      else if (kind === 'groups') {
        w(table(['ID', 'STATUS', 'PIPELINE', 'RUNS', 'CREATED'],
          (page.items as Group[]).map((g) => [g.id, status(g.status), g.pipeline, groupCounts(g), age(g.created_at)])));
      } else {
        w(table(['ID', 'STATUS', 'RUN', 'JOB', 'EXECUTOR', 'TRY', 'EXIT', 'DURATION', 'REASON'],
          (page.items as Job[]).map((j) => [j.id, status(j.status), j.run_id, `${j.stage}/${j.name}`, j.executor,
            String(j.attempt ?? ''), j.exit_code == null ? '-' : String(j.exit_code), elapsed(j), why(j)])));
      }
      if (page.next_cursor) note(dim(`more: drover ls ${kind} --cursor ${page.next_cursor}`));
    },
    run: (run) => w(runTree(run)),
    group(g, results) {
      w(`group ${g.id}  ${status(g.status)}  ${g.pipeline}  ${groupCounts(g)}\n  created  ${time(g.created_at)}${g.ended_at ? `  ended ${time(g.ended_at)}` : ''}${g.cost ? `\n  cost     ${costLine(g.cost)}` : ''}`);
      if (results?.length) w(resultsTable(results.slice(0, GROUP_ROWS)));
      if (results && results.length > GROUP_ROWS) note(dim(`… ${results.length - GROUP_ROWS} more runs: drover results ${g.id}`));
    },
    results(rows) {
      if (rows.length === 0) return note('no runs');
      w(resultsTable(rows));
    },
    job(j) {
      let s = `job ${j.id}  ${status(j.status)}  ${j.stage}/${j.name}  run ${j.run_id}\n`;
      s += `  executor ${j.executor}  attempt ${j.attempt}${j.exit_code != null ? `  exit ${j.exit_code}` : ''}  ${elapsed(j)}\n`;
      if (why(j)) s += `  reason   ${why(j)}\n`;
      if (j.outputs && Object.keys(j.outputs).length) s += `  outputs  ${kv(j.outputs)}\n`;
      w(s);
      if (j.commands?.length) {
        w(table(['#', 'EXIT', 'DURATION', 'LOG', 'COMMAND'], j.commands.map((c) => [String(c.index),
          c.exit_code == null ? '-' : `${c.exit_code}${c.allow_failure ? '*' : ''}`, elapsed(c), c.log_size == null ? '-' : `${c.log_size}B`,
          c.run.split('\n')[0]!.slice(0, 80)])));
      }
      if (j.attempts && j.attempts.length > 1) w(`attempts:\n${outline(j.attempts, '  ')}`);
    },
    why(x: Why) {
      let s = `blocked: ${x.blocked ? 'yes' : 'no'}\n`;
      for (const r of x.reasons ?? []) s += `  - ${r.message ?? r.code}${r.message ? dim(` (${r.code})`) : ''}\n`;
      if (x.history?.length) {
        s += 'history:\n';
        for (const h of x.history) s += `  ${time(h.at)}  ${h.reasons.map((r) => r.message ?? r.code).join('; ') || 'not blocked'}\n`;
      }
      w(s);
    },
    queue(q: Queue) {
      /** The few figures a person looks for; --json has everything. */
      const executorLine = (e: Record<string, unknown>): string => {
        const parts = [`${e.used ?? 0}/${e.slots ?? 0} used`];
        if (Array.isArray(e.gpus)) {
          parts.push(e.gpus.length ? e.gpus.map((g: any) => `gpu${g.index} ${g.name ?? ''}${g.job ? ` ← ${g.job}` : ' free'}`).join(', ') : `no GPUs (${e.reason ?? 'none detected'})`);
        }
        if ('submitted' in e) parts.push(`submitted ${e.submitted}, pending ${e.pending}, running ${e.running}`);
        const ctl = e.controller as { ok?: boolean; error?: string } | undefined;
        if (ctl && ctl.ok === false) parts.push(`controller unreachable: ${ctl.error ?? ''}`);
        if (e.available === false) parts.push(`unavailable: ${e.unavailable_reason ?? ''}`);
        if (e.source) parts.push(dim(`${e.source}${e.api_version != null ? `, api v${e.api_version}` : ''}`));
        return parts.join('  ');
      };
      let s = `running ${count(q.running)}${q.max_parallel != null ? ` / max ${q.max_parallel}` : ''}   queued ${count(q.queued)}\n`;
      const ex = Object.entries(q.executors ?? {});
      if (ex.length) s += 'executors:\n' + ex.map(([name, e]) => `  ${name.padEnd(8)} ${executorLine(e as Record<string, unknown>)}\n`).join('');
      if (q.groups?.length) s += 'groups:\n' + table(['ID', 'STATUS', 'RUNNING', 'QUEUED'],
        q.groups.map((g) => [g.id, status(g.status), String(g.running ?? 0), String(g.queued ?? 0)])).replace(/^(?=.)/gm, '  ');
      if (q.alloc_queues?.length) s += 'allocation queues:\n' + q.alloc_queues.map((a) => allocQueueText(a).replace(/^(?=.)/gm, '  ')).join('');
      const d = q.daemon;
      if (d) {
        const stale = d.heartbeat_at && Date.now() - Date.parse(d.heartbeat_at) > STALE_HEARTBEAT_MS ? ' (stale: is the scheduler stuck?)' : '';
        s += `daemon: pid ${d.pid ?? '?'}, version ${d.version ?? '?'}, up ${elapsed({ started_at: d.started_at })}, heartbeat ${age(d.heartbeat_at)}${stale}\n`;
      }
      w(s);
    },
    gc(report, dryRun) {
      w(`${dryRun ? 'gc dry run (nothing removed):' : 'gc done:'}\n${outline(report ?? {}, '  ')}`);
    },
    action(verb, id, res) {
      const st = res && typeof res === 'object' && 'status' in res ? `  (now ${status(String((res as { status: unknown }).status))})` : '';
      w(`${id}  ${verb}${st}`);
    },
    tokenCreated(t: Token) {
      w(t.token ?? '');
      note(`created token ${t.id} (role ${t.role}${t.name ? `, name ${t.name}` : ''}); it is shown only this once`);
    },
    tokens(list) {
      const items = Array.isArray(list) ? list : list.items;
      if (!items.length) return note('no tokens');
      w(table(['ID', 'ROLE', 'NAME', 'CREATED'], items.map((t) => [t.id, t.role, t.name ?? '', time(t.created_at)])));
    },
    text: (s) => w(s),
  };
}
