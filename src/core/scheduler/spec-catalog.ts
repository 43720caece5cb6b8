// What never changes about a run once submitted, read once and kept: its pipeline's validated spec,
// its folder, and for each job its spec entry (jobSpecOf), timeout, command count, folder and handle.
import { join } from 'node:path';
import { DroverError } from '../errors.ts';
import { validateSpec, type PipelineSpec, type JobSpec } from '../spec/index.ts';
import type { Store, Handle } from '../ports.ts';
import type { JobRow } from '../types.ts';

export interface RunFacts { dir: string; pipeline: string; version: number; trigger: string }

export class SpecCatalog {
  private specs = new Map<string, PipelineSpec>();
  private runFacts = new Map<string, RunFacts>();

  /** `executors`: the names a stored spec may use (they were valid when it was submitted) */
  constructor(private readonly store: Store, private readonly executors: () => string[]) {}

  spec(name: string, version: number): PipelineSpec {
    const key = `${name}@${version}`;
    let s = this.specs.get(key);
    if (!s) {
      const row = this.store.pipelineGet(name, version);
      if (!row) throw new DroverError('not_found', `pipeline ${key} is missing`);
      s = validateSpec(JSON.parse(row.spec), { executors: this.executors() });
      this.specs.set(key, s);
    }
    return s;
  }

  /** The spec a submit has just validated, for the version it writes: not validated a second time
   *  (a spec of 100,000 jobs took a second and 100 MB more). Returns the undo, for a rollback. */
  prime(name: string, version: number, spec: PipelineSpec): () => void {
    const key = `${name}@${version}`;
    if (this.specs.has(key)) return () => {};
    this.specs.set(key, spec);
    return () => { this.specs.delete(key); };
  }

  specOfRun(runId: string): PipelineSpec {
    const f = this.factsOf(runId);
    return this.spec(f.pipeline, f.version);
  }

  /** The spec entry a job was made from. */
  jobSpecOf(job: Pick<JobRow, 'run_id' | 'stage_idx' | 'job_idx'>): JobSpec {
    return this.specOfRun(job.run_id).stages[job.stage_idx]!.jobs[job.job_idx]!;
  }

  timeoutOf(job: JobRow): number {
    return this.jobSpecOf(job).timeout_ms ?? this.specOfRun(job.run_id).timeout_ms ?? 0;
  }
  commandCount(job: JobRow): number { return this.jobSpecOf(job).commands.length; }
  jobDir(job: Pick<JobRow, 'run_id' | 'id'>): string { return join(this.factsOf(job.run_id).dir, 'jobs', job.id); }
  runDir(runId: string): string { return this.factsOf(runId).dir; }

  /** The job's recorded handle, or one made from its folder (a start that never recorded one). */
  handleOf(job: JobRow): Handle {
    return job.handle ? JSON.parse(job.handle) : { executor: job.executor, dir: this.jobDir(job), commandCount: this.commandCount(job) };
  }

  /** a run's facts that never change (read once, kept) */
  factsOf(runId: string): RunFacts {
    let f = this.runFacts.get(runId);
    if (!f) {
      const run = this.store.getRun(runId);
      if (!run) throw new DroverError('not_found', `no run ${runId}`);
      f = { dir: run.dir, pipeline: run.pipeline, version: run.pipeline_version, trigger: run.trigger };
      if (this.runFacts.size >= 10_000) this.runFacts.clear();
      this.runFacts.set(runId, f);
    }
    return f;
  }
}
