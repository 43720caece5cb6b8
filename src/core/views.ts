// The API's view of rows: runs with stages → jobs → commands, jobs with attempts, groups with counts.
// The server, the CLI's JSON and result.json all show these shapes.
import { join } from 'node:path';
import { fileSize, readCommandMeta } from '../runner/meta.ts';
import type { Store } from './ports.ts';
import type { AttemptRow, CommandRow, GroupRow, JobRow, RunRow, StageRow } from './types.ts';
import type { PipelineSpec } from './spec/index.ts';
import { openObject, type JsonParts } from './json-parts.ts';

export interface ViewSource { store: Store; specOfRun(runId: string): PipelineSpec }
const parse = (s: string | null) => (s ? JSON.parse(s) : null);

export function groupView(store: Store, g: GroupRow) {
  const c = store.groupRunCounts(g.id);
  return {
    id: g.id, pipeline: g.pipeline, status: g.status, priority: g.priority, sweep: !!g.is_sweep, total: g.total,
    trigger: parse(g.trigger), created_at: g.created_at, ended_at: g.ended_at,
    counts: { queued: c.queued ?? 0, running: c.running ?? 0, succeeded: c.succeeded ?? 0, failed: c.failed ?? 0, canceled: c.canceled ?? 0 },
  };
}

export function runSummary(r: RunRow) {
  return {
    id: r.id, pipeline: r.pipeline, pipeline_version: r.pipeline_version, group_id: r.group_id, status: r.status,
    reason: r.reason, message: r.message, priority: r.priority, params: parse(r.params), trigger: parse(r.trigger),
    created_at: r.created_at, started_at: r.started_at, ended_at: r.ended_at, dir: r.dir,
  };
}

/** The commands of a run's jobs (their current attempts), by job: one read for the run, not one per job. */
export function commandsByJob(store: Pick<Store, 'commandsOfRun'>, runId: string): Map<string, CommandRow[]> {
  const out = new Map<string, CommandRow[]>();
  for (const c of store.commandsOfRun(runId)) {
    const list = out.get(c.job_id);
    if (list) list.push(c); else out.set(c.job_id, [c]);
  }
  return out;
}

/** A job's attempts: the ended ones (rows), and the one in progress, which is the job row's own. */
export function attemptsView(store: Pick<Store, 'attemptsOf'>, j: JobRow): AttemptRow[] {
  const rows = store.attemptsOf(j.id);
  if (j.status === 'running' && !rows.some((a) => a.attempt === j.attempt)) {
    rows.push({ job_id: j.id, attempt: j.attempt, status: 'running', reason: null, message: null, exit_code: null, started_at: j.started_at, ended_at: null });
  }
  return rows;
}

export function runView(src: ViewSource, r: RunRow) {
  const spec = src.specOfRun(r.id);
  const jobs = src.store.jobsOfRun(r.id);
  const commands = commandsByJob(src.store, r.id);
  return {
    ...runSummary(r),
    stages: src.store.stagesOfRun(r.id).map((s) => ({
      ...stageView(s),
      jobs: jobs.filter((j) => j.stage_id === s.id).map((j) => jobView(src, j, spec, r, commands.get(j.id) ?? [])),
    })),
  };
}

/** JSON.stringify(runView(src, r)), the same text, written into `out` a job at a time. */
export function runViewJson(src: ViewSource, r: RunRow, out: JsonParts): void {
  const spec = src.specOfRun(r.id);
  const commands = commandsByJob(src.store, r.id);
  out.push(`${openObject(runSummary(r))},"stages":[`);
  src.store.stagesOfRun(r.id).forEach((s, i) => {
    out.push(`${i ? ',' : ''}${openObject(stageView(s))},"jobs":[`);
    let first = true;
    for (const j of src.store.eachJobOfStage(s.id)) {
      out.push((first ? '' : ',') + JSON.stringify(jobView(src, j, spec, r, commands.get(j.id) ?? [])));
      first = false;
    }
    out.push(']}');
  });
  out.push(']}');
}

/** JSON.stringify(runsOfGroup(id).map(runSummary)), the same text, written into `out` a run at a time. */
export function runSummariesJson(store: Pick<Store, 'eachRunOfGroup'>, groupId: string, out: JsonParts): void {
  out.push('[');
  let first = true;
  for (const r of store.eachRunOfGroup(groupId)) {
    out.push((first ? '' : ',') + JSON.stringify(runSummary(r)));
    first = false;
  }
  out.push(']');
}

export function stageView(s: StageRow) {
  return { id: s.id, name: s.name, status: s.status, needs: parse(s.needs), merge: s.merge, outputs: parse(s.outputs) ?? {}, reason: s.reason, message: s.message, started_at: s.started_at, ended_at: s.ended_at };
}

export function jobView(src: ViewSource, j: JobRow, spec = src.specOfRun(j.run_id), run?: RunRow, commands?: CommandRow[]) {
  const js = spec.stages[j.stage_idx]!.jobs[j.job_idx]!;
  const rows = commands ?? src.store.commandsOf(j.id, j.attempt);
  const dir = join((run ?? src.store.getRun(j.run_id)!).dir, 'jobs', j.id);
  return {
    id: j.id, run_id: j.run_id, group_id: j.group_id, stage: spec.stages[j.stage_idx]!.name, name: j.name, executor: j.executor,
    matrix: parse(j.matrix), allow_failure: !!j.allow_failure,
    status: j.status, attempt: j.attempt, reason: j.reason, message: j.message, exit_code: j.exit_code,
    created_at: j.created_at, queued_at: j.queued_at, started_at: j.started_at, ended_at: j.ended_at,
    outputs: parse(j.outputs) ?? {}, dir, device: parse(j.device), stats: parse(j.stats),
    commands: js.commands.map((c, index) => {
      const row = rows.find((x) => x.idx === index);
      const live = j.status === 'running';
      // while the job runs, a command that already ended shows its exit code and times (its meta file)
      const m = live && !row ? readCommandMeta(dir, index) : null;
      return {
        index, run: c.run, allow_failure: c.allow_failure, exit_code: row?.exit_code ?? m?.exit_code ?? null,
        started_at: row?.started_at ?? m?.started_at ?? null, ended_at: row?.ended_at ?? m?.ended_at ?? null,
        log_size: live ? fileSize(join(dir, 'logs', `${index}.log`)) : row?.log_size ?? 0,
      };
    }),
  };
}
