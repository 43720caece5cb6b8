// "Why is this job not running?" as values: every current blocker at once, plus the history of
// blockers recorded over time. The API, CLI and web page render them.
import type { Engine } from './engine.ts';
import type { JobRow } from '../types.ts';

export interface Blocker { code: string; message: string; [k: string]: unknown }

export function explain(eng: Engine, job: JobRow): { blocked: boolean; status: string; reasons: Blocker[]; history: { at: string; reasons: Blocker[] }[] } {
  const reasons = current(eng, job);
  const history = eng.store.blockersOf(job.id).map((h) => ({ at: h.at, reasons: JSON.parse(h.reasons) as Blocker[] }));
  return { blocked: reasons.length > 0, status: job.status, reasons, history };
}

function current(eng: Engine, job: JobRow): Blocker[] {
  const { store } = eng;
  const out: Blocker[] = [];
  if (job.status === 'pending') {
    const stages = store.stagesOfRun(job.run_id);
    const mine = stages[job.stage_idx]!;
    const needs = JSON.parse(mine.needs) as string[];
    const waiting = stages.filter((s) => needs.includes(s.name) && s.status !== 'succeeded');
    // a stage of many jobs (a job-level matrix) says how far it is: the stage waits for all of them
    const progress = waiting.map((s) => {
      const c = store.stageJobCounts(s.id);
      const total = Object.values(c).reduce((a, b) => a + b, 0);
      const done = total - (c.pending ?? 0) - (c.queued ?? 0) - (c.running ?? 0);
      return { stage: s.name, status: s.status, jobs: total, done };
    });
    const says = (p: (typeof progress)[number]) => `'${p.stage}' (${p.status}${p.jobs > 1 ? `, ${p.done} of ${p.jobs} jobs done` : ''})`;
    out.push({ code: 'waiting_for_stage', message: `waiting for stage ${progress.map(says).join(', ')}`, stages: waiting.map((s) => s.name), progress });
    return out;
  }
  const ex = eng.executors.get(job.executor);
  if (job.status === 'running') return ex?.explain?.(job.id, job.handle ? JSON.parse(job.handle) : null) ?? out;
  if (job.status !== 'queued') return out;
  const group = store.getGroup(job.group_id);
  if (group?.status === 'paused') out.push({ code: 'group_paused', message: `group ${group.id} is paused`, group: group.id });
  if (job.backoff_until && job.backoff_until > Date.now()) {
    out.push({ code: 'backoff_until', message: `retry backoff until ${new Date(job.backoff_until).toISOString()}`, until: new Date(job.backoff_until).toISOString() });
  }
  if (!eng.executors.has(job.executor)) out.push({ code: 'executor_unavailable', message: `executor '${job.executor}' is not loaded` });
  if (eng.limited(job.executor) && eng.runningLimited >= eng.config.maxParallel) {
    out.push({ code: 'max_parallel', message: `${eng.runningLimited} of ${eng.config.maxParallel} parallel slots in use`, running: eng.runningLimited, limit: eng.config.maxParallel });
  }
  const used = eng.running.get(job.executor) ?? 0;
  const slots = eng.slots.get(job.executor) ?? 0;
  if (eng.executors.has(job.executor) && used >= slots) {
    out.push({ code: 'executor_slots_full', message: `executor '${job.executor}' has ${used} of ${slots} slots in use`, executor: job.executor, used, slots });
  }
  for (const b of ex?.explain?.(job.id, null) ?? []) out.push(b);
  const run = store.getRun(job.run_id);
  const limit = run && run.status === 'queued' ? eng.spec(run.pipeline, run.pipeline_version).concurrency : undefined;
  if (run && limit) {
    const running = store.countRunsWithStatus(run.pipeline, 'running');
    if (running >= limit) out.push({ code: 'pipeline_concurrency', message: `pipeline '${run.pipeline}' allows ${limit} run(s) at once and ${running} are running`, limit, running });
  }
  if (out.length === 0) out.push({ code: 'waiting_for_turn', message: 'ready; starts on the next scheduler pass (priority, then round-robin across groups)' });
  return out;
}
