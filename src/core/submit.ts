// Plans a submission: validates the spec, registers the pipeline version, expands the matrix
// into runs, checks references, and builds the rows the store writes in one transaction.
// Also builds the dry-run preview. No I/O here except the workspace existence check.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { DroverError } from './errors.ts';
import { newId, isoNow } from './ids.ts';
import { validateSpec, rejectDangerous, expandMatrix, countMatrix, checkReferences, checkOverrides, type PipelineSpec, type ValidateOptions } from './spec/index.ts';
import { resolveWorkspace, runWorkDir } from './workspace.ts';
import { checkSchedule } from './triggers/cron.ts';
import type { Store } from './ports.ts';
import type { NewSubmission, NewRun, Trigger } from './types.ts';

export interface SubmitInput { spec?: unknown; pipeline?: string; params?: Record<string, unknown>; priority?: number; trigger?: Trigger }
export interface Planned { submission: NewSubmission; spec: PipelineSpec; rawSpec: unknown; version: number; isSweep: boolean }

export const specHash = (raw: unknown): string => createHash('sha256').update(JSON.stringify(raw)).digest('hex');

/** The pipeline version a spec becomes: the latest when identical, else latest + 1 (written by the caller). */
export function pipelineVersionFor(store: Pick<Store, 'pipelineLatest'>, name: string, raw: unknown): { version: number; isNew: boolean } {
  const latest = store.pipelineLatest(name);
  if (latest && latest.spec_hash === specHash(raw)) return { version: latest.version, isNew: false };
  return { version: (latest?.version ?? 0) + 1, isNew: true };
}

/** The spec validator counts a cron expression's fields; croner checks the expression itself (400 naming it). */
const checked = (spec: PipelineSpec): PipelineSpec => { checkSchedule(spec); return spec; };

export function loadSpec(store: Store, input: SubmitInput, opts: ValidateOptions): { spec: PipelineSpec; raw: unknown } {
  if (input.spec !== undefined) return { spec: checked(validateSpec(input.spec, opts)), raw: input.spec };
  if (!input.pipeline) throw new DroverError('invalid_request', "body needs 'spec' (a pipeline spec) or 'pipeline' (a registered name)", { path: 'spec' });
  const row = store.pipelineLatest(input.pipeline);
  if (!row) throw new DroverError('not_found', `no pipeline named '${input.pipeline}' (register it with POST /pipelines)`, { pipeline: input.pipeline });
  const raw = JSON.parse(row.spec);
  return { spec: validateSpec(raw, opts), raw };
}

export function planSubmission(
  spec: PipelineSpec, version: number, input: SubmitInput,
  opts: { runsDir: string; workspaceRoot: string; maxSweep: number; now: number },
): Planned {
  // a person's (or a script's) --param must name a param; an event's or webhook's payload may carry more fields
  if (input.params && ['api', 'manual'].includes(input.trigger?.kind ?? 'api')) checkOverrides(spec, input.params);
  const combos = spec.matrix ? matrixOrRefuse(spec.matrix, opts.maxSweep) : [{}];
  const isSweep = !!spec.matrix;
  const base = { ...spec.params, ...(input.params ?? {}) };
  const paramSets = combos.map((c) => ({ ...base, ...c }));
  checkJobPoints(spec, combos.length, opts.maxSweep);
  checkReferences(spec, paramSets[0]!);
  const workspace = spec.workspace ? resolveWorkspace(opts.workspaceRoot, spec.workspace) : null;
  // without a workspace, commands run in their run's shared work dir: a stand-in path of the same depth
  rejectDangerous(spec, { workspaceRoot: opts.workspaceRoot, workdir: workspace ?? runWorkDir(join(opts.runsDir, 'r_')) });
  const at = isoNow(opts.now);
  const priority = input.priority ?? spec.priority;
  const trigger: Trigger = input.trigger ?? { kind: 'api' };
  const groupId = newId('g');
  const runs: NewRun[] = paramSets.map((params, i) => {
    const runId = newId('r');
    const stageIds = spec.stages.map(() => newId('s'));
    return {
      id: runId, pipeline_version: version, params, workspace, dir: join(opts.runsDir, runId),
      // a sweep's runs say so; what submitted the sweep (manual/api/schedule…) is kept beside it
      trigger: isSweep ? { ...trigger, kind: ['api', 'manual'].includes(trigger.kind) ? 'sweep' : trigger.kind, submitted_by: trigger.kind, group: groupId, index: i } : trigger,
      stages: spec.stages.map((st, si) => ({ id: stageIds[si]!, idx: si, name: st.name, status: 'pending', needs: st.needs, merge: st.merge })),
      jobs: spec.stages.flatMap((st, si) => st.jobs.map((j, ji) => ({
        id: newId('j'), stage_id: stageIds[si]!, stage_idx: si, job_idx: ji, name: j.name, executor: j.executor,
        status: st.needs.length ? 'pending' : 'queued', queued_at: st.needs.length ? null : at,
        matrix: j.matrix ?? null, allow_failure: !!j.allow_failure,
      }))),
    };
  });
  const submission: NewSubmission = {
    group: { id: groupId, pipeline: spec.name, status: 'running', priority, is_sweep: isSweep ? 1 : 0, total: runs.length, trigger: JSON.stringify(trigger), created_at: at },
    pipeline: spec.name, priority, created_at: at, runs,
  };
  return { submission, spec, rawSpec: input.spec, version, isSweep };
}

function matrixOrRefuse(matrix: Record<string, unknown[]>, max: number) {
  const n = countMatrix(matrix);
  if (n > max) throw new DroverError('too_many_runs', `matrix makes ${n} runs, more than the limit of ${max} (--max-sweep)`, { path: 'matrix', runs: n, max });
  return expandMatrix(matrix);
}

/** --max-sweep bounds the sweep points of one submission: runs x the jobs made by job-level matrices. */
function checkJobPoints(spec: PipelineSpec, runs: number, max: number): void {
  const points = spec.stages.reduce((n, s) => n + s.jobs.filter((j) => j.matrix).length, 0);
  if (points === 0 || runs * points <= max) return;
  const what = runs > 1 ? `${runs} runs x ${points} matrix jobs = ${runs * points}` : `${points} matrix jobs`;
  throw new DroverError('too_many_runs', `job matrices make ${what}, more than the limit of ${max} (--max-sweep)`, { path: 'matrix', jobs: runs * points, max });
}

/** A stage's jobs for the preview: the points of a job matrix as one entry with their count and axes. */
function previewJobs(jobs: PipelineSpec['stages'][number]['jobs']) {
  type Entry = { name: string; executor: string; resources: unknown; points?: number; matrix?: Record<string, unknown[]> };
  const out: Entry[] = [];
  const groups = new Map<string, { entry: Entry; seen: Map<string, Set<unknown>> }>();
  for (const j of jobs) {
    if (!j.matrix) { out.push({ name: j.name, executor: j.executor, resources: j.resources }); continue; }
    const name = j.name.slice(0, j.name.indexOf('['));
    let g = groups.get(name);
    if (!g) {
      g = { entry: { name, executor: j.executor, resources: j.resources, points: 0, matrix: {} }, seen: new Map() };
      groups.set(name, g);
      out.push(g.entry);
    }
    g.entry.points!++;
    for (const [k, v] of Object.entries(j.matrix)) {
      const seen = g.seen.get(k) ?? new Set();
      g.seen.set(k, seen);
      if (!seen.has(v)) { seen.add(v); (g.entry.matrix![k] ??= []).push(v); }
    }
  }
  return out;
}

/** What a submission would do, without doing it. */
export function preview(p: Planned) {
  const executors: Record<string, number> = {};
  let cpuHours = 0, gpuHours = 0, untimed = 0, jobs = 0;
  for (const run of p.submission.runs) {
    for (const j of run.jobs) {
      jobs++;
      const js = p.spec.stages[j.stage_idx]!.jobs[j.job_idx]!;
      executors[js.executor] = (executors[js.executor] ?? 0) + 1;
      const ms = js.resources.time_ms ?? js.timeout_ms;
      if (!ms) { untimed++; continue; }
      cpuHours += (js.resources.cpus ?? 1) * ms / 3_600_000;
      gpuHours += (js.resources.gpus ?? 0) * ms / 3_600_000;
    }
  }
  return {
    dry_run: true, pipeline: p.spec.name, version: p.version, sweep: p.isSweep,
    runs: p.submission.runs.length, jobs, executors,
    matrix: p.submission.runs.map((r) => r.params),
    jobs_per_run: p.spec.stages.map((s) => ({ stage: s.name, jobs: previewJobs(s.jobs) })),
    cpu_hours: Math.round(cpuHours * 1000) / 1000, gpu_hours: Math.round(gpuHours * 1000) / 1000,
    jobs_without_time_limit: untimed,
  };
}
