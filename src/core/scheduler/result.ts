// result.json of a run: outcome, effective config per job, timings. Written when the run ends.
import type { JobRow, RunRow } from '../types.ts';
import type { Store } from '../ports.ts';
import type { PipelineSpec } from '../spec/index.ts';

interface Source { store: Store; specOfRun(runId: string): PipelineSpec }

const durationS = (a: string | null, b: string | null) => (a && b ? (Date.parse(b) - Date.parse(a)) / 1000 : null);

export function runResult(src: Source, run: RunRow) {
  const spec = src.specOfRun(run.id);
  const jobs = src.store.jobsOfRun(run.id);
  const stages = src.store.stagesOfRun(run.id);
  return {
    id: run.id, pipeline: run.pipeline, pipeline_version: run.pipeline_version, status: run.status,
    reason: run.reason, params: JSON.parse(run.params), trigger: JSON.parse(run.trigger),
    created_at: run.created_at, started_at: run.started_at, ended_at: run.ended_at,
    duration_s: durationS(run.started_at, run.ended_at),
    stages: stages.map((s) => ({ name: s.name, status: s.status, outputs: s.outputs ? JSON.parse(s.outputs) : {} })),
    jobs: jobs.map((j) => jobResult(src, spec, j)),
    provenance: { drover_version: process.env.DROVER_VERSION ?? null, host: process.env.HOSTNAME ?? null },
  };
}

function jobResult(src: Source, spec: PipelineSpec, j: JobRow) {
  const js = spec.stages[j.stage_idx]!.jobs[j.job_idx]!;
  return {
    id: j.id, stage: spec.stages[j.stage_idx]!.name, name: j.name, status: j.status, reason: j.reason, message: j.message,
    exit_code: j.exit_code, attempt: j.attempt, started_at: j.started_at, ended_at: j.ended_at,
    duration_s: durationS(j.started_at, j.ended_at),
    outputs: j.outputs ? JSON.parse(j.outputs) : {},
    effective_config: { executor: j.executor, resources: js.resources, timeout_ms: js.timeout_ms ?? spec.timeout_ms ?? null, device: j.device ? JSON.parse(j.device) : { type: 'cpu' } },
    stats: j.stats ? JSON.parse(j.stats) : null,
    commands: src.store.commandsOf(j.id, j.attempt).map((c) => ({ index: c.idx, exit_code: c.exit_code, started_at: c.started_at, ended_at: c.ended_at })),
  };
}
