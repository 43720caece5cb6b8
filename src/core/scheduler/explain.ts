// "Why is this job not running?" as values: every current blocker at once, plus the history of
// blockers recorded over time. A queued job's blockers are exactly the admission gates the scheduler
// asks (gates.ts) plus its executor's own (GPUs busy, Slurm's pending reason), so `why` cannot drift
// from what the scheduler does. The API, CLI and web page render them.
import type { Engine } from './engine.ts';
import type { JobRow } from '../types.ts';
import type { Blocker } from '../ports.ts';
import { allBlockers, lazyRun } from './gates.ts';

export type { Blocker };

export function explain(eng: Engine, job: JobRow): { blocked: boolean; status: string; reasons: Blocker[]; history: { at: string; reasons: Blocker[] }[] } {
  const reasons = current(eng, job);
  const history = eng.store.blockersOf(job.id).map((h) => ({ at: h.at, reasons: JSON.parse(h.reasons) as Blocker[] }));
  return { blocked: reasons.length > 0 && job.status !== 'skipped', status: job.status, reasons, history }; // skipped: never runs, not waiting
}

function current(eng: Engine, job: JobRow): Blocker[] {
  const { store } = eng;
  if (job.status === 'pending') {
    const stages = store.stagesOfRun(job.run_id);
    const needs = JSON.parse(stages[job.stage_idx]!.needs) as string[];
    const waiting = stages.filter((s) => needs.includes(s.name) && s.status !== 'succeeded');
    // a stage of many jobs (a job-level matrix) says how far it is: the stage waits for all of them
    const progress = waiting.map((s) => {
      const c = store.stageJobCounts(s.id);
      const total = Object.values(c).reduce((a, b) => a + b, 0);
      const done = total - (c.pending ?? 0) - (c.queued ?? 0) - (c.running ?? 0);
      return { stage: s.name, status: s.status, jobs: total, done };
    });
    const says = (p: (typeof progress)[number]) => `'${p.stage}' (${p.status}${p.jobs > 1 ? `, ${p.done} of ${p.jobs} jobs done` : ''})`;
    return [{ code: 'waiting_for_stage', message: `waiting for stage ${progress.map(says).join(', ')}`, stages: waiting.map((s) => s.name), progress }];
  }
  if (job.status === 'skipped') return [skippedBecause(eng, job)];
  const ex = eng.executors.get(job.executor);
  if (job.status === 'running') return ex?.explain?.(job.id, job.handle ? JSON.parse(job.handle) : null) ?? [];
  if (job.status !== 'queued') return [];
  const out = allBlockers(eng.gateView(eng.clock.now()), job, lazyRun(store, job.run_id));
  for (const b of ex?.explain?.(job.id, null) ?? []) out.push(b);
  for (const source of eng.blockers.sources) out.push(...source(job));
  if (out.length === 0) out.push({ code: 'waiting_for_turn', message: 'ready; starts on the next scheduler pass (priority, then round-robin across groups)' });
  return out;
}

/** A skipped job never ran: name the needed stages that did not succeed (the first cause upstream). */
function skippedBecause(eng: Engine, job: JobRow): Blocker {
  const stages = eng.store.stagesOfRun(job.run_id);
  const needs = JSON.parse(stages[job.stage_idx]!.needs) as string[];
  const bad = stages.filter((s) => needs.includes(s.name) && s.status !== 'succeeded');
  return {
    code: 'upstream_failed',
    message: `skipped: it never ran because needed stage ${bad.map((s) => `'${s.name}' ${s.status}`).join(', ') || '(unknown)'}`,
    stages: bad.map((s) => s.name),
  };
}
