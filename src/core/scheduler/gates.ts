// Admission gates: every limit that can keep a queued job from starting, each one function returning
// a Blocker or null. The scheduler asks them in order before it starts a job, and `why` asks all of
// them, so the two can never disagree about what holds a job back.
import { isoNow } from '../ids.ts';
import type { Blocker, Executor, Store } from '../ports.ts';
import type { JobRow, RunRow } from '../types.ts';
import type { EngineConfig } from '../config.ts';
import type { SlotLedger } from './slot-ledger.ts';
import type { SpecCatalog } from './spec-catalog.ts';

export interface GateView {
  store: Store; executors: Map<string, Executor>; ledger: SlotLedger; catalog: SpecCatalog;
  /** loaded executors whose backend detect() found missing, with the reason */
  unavailable: Map<string, string>;
  config: Pick<EngineConfig, 'maxParallel'>;
  slots(executor: string): number;
  /** jobs of ownQueue executors (Slurm) wait in their batch system's queue, outside max_parallel */
  limited(executor: string): boolean;
  /** the run's folder is still to be made (a big sweep's later runs: run-folders.ts) */
  folderPending(runId: string): boolean;
  now: number;
}

/** `run()` reads the job's run (once, on first use: most jobs are decided before a gate needs it). `fail`: the job can never start here. */
export type Gate = (v: GateView, job: JobRow, run: () => RunRow | null) => (Blocker & { fail?: boolean }) | null;

export const agentOnly: Gate = (_v, job) => job.executor !== 'agent' ? null
  : { code: 'agent_only', message: "executor 'agent': waits for a remote `drover agent` to claim it" };

export const executorMissing: Gate = (v, job) => job.executor === 'agent' || v.executors.has(job.executor) ? null
  : { code: 'executor_unavailable', message: `executor '${job.executor}' is not loaded in this server`, executor: job.executor, fail: true };

/** Loaded, but its backend is missing (detect() said so): the job waits; detection is retried. */
export const executorDown: Gate = (v, job) => {
  const reason = v.unavailable.get(job.executor);
  return reason === undefined ? null : { code: 'executor_unavailable', message: `executor '${job.executor}' is unavailable: ${reason}`, executor: job.executor };
};

export const groupPaused: Gate = (v, job) => {
  const g = v.store.getGroup(job.group_id);
  return g?.status === 'paused' ? { code: 'group_paused', message: `group ${g.id} is paused`, group: g.id } : null;
};

export const backoff: Gate = (v, job) => job.backoff_until !== null && job.backoff_until > v.now
  ? { code: 'backoff_until', message: `retry backoff until ${isoNow(job.backoff_until)}`, until: isoNow(job.backoff_until) } : null;

/** A big sweep's later runs wait for the scheduler to make their folder (run.json) first. */
export const runFolderPending: Gate = (v, job) => !v.folderPending(job.run_id) ? null
  : { code: 'run_folder_pending', message: `the folder of run ${job.run_id} is still being made (a big sweep's run folders are made after its submit was answered)`, run: job.run_id };

export const maxParallel: Gate = (v, job) => {
  if (!v.limited(job.executor) || v.ledger.limited < v.config.maxParallel) return null;
  return { code: 'max_parallel', message: `${v.ledger.limited} of ${v.config.maxParallel} parallel slots in use`, running: v.ledger.limited, limit: v.config.maxParallel };
};

export const executorSlots: Gate = (v, job) => {
  if (!v.executors.has(job.executor)) return null;
  const used = v.ledger.running(job.executor), slots = v.slots(job.executor);
  return used < slots ? null : { code: 'executor_slots_full', message: `executor '${job.executor}' has ${used} of ${slots} slots in use`, executor: job.executor, used, slots };
};

/** schedule `overlap: queue`: a run waits until the previous scheduled run (named in its trigger) has ended. */
export const previousRun: Gate = (v, job, runOf) => {
  if (!v.catalog.factsOf(job.run_id).trigger.includes('"after"')) return null; // (no read of the run for the common case)
  const run = runOf();
  if (!run || run.status !== 'queued' || !run.trigger.includes('"after"')) return null;
  const after = (JSON.parse(run.trigger) as { after?: unknown }).after;
  const prev = typeof after === 'string' ? v.store.getRun(after) : null;
  if (!prev || (prev.status !== 'queued' && prev.status !== 'running')) return null;
  return { code: 'previous_run', message: `waits for the previous scheduled run ${prev.id} (${prev.status}) to end (schedule overlap: queue)`, run: prev.id };
};

/** `concurrency: N` in a spec: a run that has not started waits while N runs of its pipeline run. */
export const pipelineConcurrency: Gate = (v, job, runOf) => {
  const facts = v.catalog.factsOf(job.run_id);
  const limit = v.catalog.spec(facts.pipeline, facts.version).concurrency;
  if (!limit) return null;
  const run = runOf();
  if (!run || run.status !== 'queued') return null;
  const running = v.store.countRunsWithStatus(run.pipeline, 'running');
  return running < limit ? null : { code: 'pipeline_concurrency', message: `pipeline '${run.pipeline}' allows ${limit} run(s) at once and ${running} are running`, limit, running };
};

/** The job's run, read on first use only. */
export function lazyRun(store: Pick<Store, 'getRun'>, runId: string): () => RunRow | null {
  let run: RunRow | null | undefined;
  return () => (run === undefined ? (run = store.getRun(runId)) : run);
}

/** The order the scheduler asks them in: cheap checks of memory first, reads of other rows last. */
export const GATES: Gate[] = [agentOnly, executorMissing, executorDown, groupPaused, backoff, runFolderPending, executorSlots, maxParallel, previousRun, pipelineConcurrency];

/** Gates whose refusal goes into the job's why-history (the others change too often to be news). */
export const NOTED = new Set<Gate>([previousRun, pipelineConcurrency]);

/** The first gate that refuses the job, or null: it may start (executor admission aside). */
export function firstBlocker(v: GateView, job: JobRow, run: () => RunRow | null, gates: Gate[] = GATES): { gate: Gate; blocker: Blocker & { fail?: boolean } } | null {
  for (const gate of gates) {
    const blocker = gate(v, job, run);
    if (blocker) return { gate, blocker };
  }
  return null;
}

/** Every gate that refuses the job (for `why`). */
export function allBlockers(v: GateView, job: JobRow, run: () => RunRow | null): Blocker[] {
  const out: Blocker[] = [];
  for (const gate of GATES) {
    const b = gate(v, job, run);
    if (b) { const { fail: _f, ...rest } = b; out.push(rest); }
  }
  return out;
}
