// The Slurm executor: runs each job's job.sh (the same runner the local executor uses) through sbatch,
// sweeps as job arrays, polled with one squeue per interval (poll.ts), mapped through state-map.ts.
// Jobs live in Slurm, not in this process: a server killed with -9 finds them again by the Slurm id in
// their handle (adopt), including those that finished meanwhile. It does not run anything itself, and it
// keeps no job state of its own beyond the last squeue view (for `why`, /queue and /metrics).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Blocker, Executor, ExecutorContext, Handle, Logger, Observation, PreparedJob } from '../../core/ports.ts';
import type { Resources } from '../../core/spec/types.ts';
import { lostEnd } from '../../core/observations.ts';
import { SlurmCli, firstLine } from './cli.ts';
import { backoffMs, slurmOptions, type SlurmOptions } from './options.ts';
import { Poller } from './poll.ts';
import { checkExtraOptions } from './sbatch.ts';
import { Submitter, type SlurmHandle } from './submit.ts';

const NOOP: Logger = { info() {}, warn() {}, error() {}, scope() { return NOOP; } };
const CANCEL_CHUNK = 500;

export function createSlurmExecutor(opts: Partial<SlurmOptions> = {}) {
  const o: SlurmOptions = { ...slurmOptions(), ...opts };
  const cli = new SlurmCli({ path: o.path, timeoutMs: o.callTimeoutMs });
  let ctx: ExecutorContext | null = null;
  const log = () => ctx?.log ?? NOOP;
  const poller = new Poller(cli, o, log);
  const submitter = new Submitter(cli, o, {
    failed: (job, message) => ctx?.notify(lostEnd(job.id, job.attempt, `spawn_failed: ${message}`)),
    submitted: () => poller.activity(),
  }, log);
  const extraAllowed = new Set(o.extraAllowed);

  // scancel, batched: one call for every cancel asked within a few ms (a group cancel of a 500-task array)
  const toCancel = new Set<string>();
  let cancelTimer: ReturnType<typeof setTimeout> | null = null;
  let cancelFailures = 0;
  const flushCancels = async () => {
    cancelTimer = null;
    const ids = [...toCancel];
    toCancel.clear();
    for (let i = 0; i < ids.length; i += CANCEL_CHUNK) {
      const chunk = ids.slice(i, i + CANCEL_CHUNK);
      const r = await cli.run('scancel', chunk, { countFailure: (x) => !alreadyGone(x.stderr) });
      if (r.ok || alreadyGone(r.stderr) || r.missing) { cancelFailures = 0; continue; }
      // the controller did not answer: try again (the job keeps running meanwhile, and is still watched)
      cancelFailures++;
      for (const id of chunk) toCancel.add(id);
      log().warn('scancel failed; will retry', { error: firstLine(r.stderr), jobs: chunk.length });
    }
    if (toCancel.size && !cancelTimer) cancelTimer = setTimeout(flushCancels, backoffMs(cancelFailures, o.maxBackoffMs));
  };

  const executor = {
    ownQueue: true,
    adoptsFromFolder: true, // slurm.id in the job folder names the Slurm job
    init(c: ExecutorContext) { ctx = c; },

    async detect() {
      const missing = (['sbatch', 'squeue', 'scancel'] as const).filter((c) => !cli.which(c));
      if (missing.length) return { available: false, slots: 0, reason: `${missing.join(', ')} not found in ${o.path}` };
      return { available: true, slots: o.maxSubmitted };
    },

    /** resources.sbatch outside the allow-list is refused at submit (400 naming the option)… */
    checkResources(resources: Resources) { return checkExtraOptions(resources.sbatch, extraAllowed); },

    /** …and again at start (the allow-list may have changed since): a refusal fails the job before anything is submitted. */
    admit(req: { jobId: string; attempt: number; resources: Resources }) {
      const why = checkExtraOptions(req.resources.sbatch, extraAllowed);
      if (!why) return { ok: true as const };
      return { ok: false as const, fail: true, blocker: { code: 'slurm:invalid_option', message: why } };
    },

    async start(job: PreparedJob): Promise<Handle> {
      return (await executor.startMany([job]))[0]!;
    },

    /** All jobs the engine starts in one tick: one sbatch per group and template (an array when several). */
    async startMany(jobs: PreparedJob[]): Promise<Handle[]> {
      poller.activity();
      return submitter.enqueue(jobs);
    },

    pollIntervalMs: () => poller.intervalMs(),

    async poll(handles: { jobId: string; attempt: number; handle: Handle }[]): Promise<Observation[]> {
      return poller.poll(handles as { jobId: string; attempt: number; handle: SlurmHandle }[]);
    },

    async cancel(handle: Handle) {
      const id = (handle as SlurmHandle).slurmId;
      if (!id) return;
      toCancel.add(id);
      cancelTimer ??= setTimeout(flushCancels, 10);
    },

    /** After a restart: a job with a Slurm id is watched again (the next poll says how it is); one whose
     *  handle was never recorded is looked up beside the job (slurm.id), else it never reached Slurm. */
    async adopt(jobId: string, attempt: number, handle: Handle): Promise<Observation> {
      poller.activity();
      if ((handle as SlurmHandle).slurmId) return { jobId, attempt, state: 'running' };
      try {
        const saved = JSON.parse(readFileSync(join(handle.dir, 'slurm.id'), 'utf8')) as SlurmHandle;
        if (saved.slurmId && saved.baseAttempt === attempt) return { jobId, attempt, state: 'running', handle: saved };
      } catch { /* not submitted */ }
      return lostEnd(jobId, attempt, 'never_started');
    },

    explain(jobId: string, handle: Handle | null): Blocker[] {
      const waiting = submitter.waitingReason(jobId);
      if (waiting) return [{ code: 'slurm_submit', message: waiting }];
      const h = handle as SlurmHandle | null;
      if (!h?.slurmId) return [];
      if (poller.failingSince) {
        return [{ code: 'slurm_unreachable', message: `squeue is failing since ${new Date(poller.failingSince).toISOString()}: ${poller.lastError}`, slurm_job_id: h.slurmId }];
      }
      const s = poller.seen.get(jobId);
      if (s?.phase !== 'pending') return [];
      return [{ code: 'slurm_pending', message: `Slurm job ${s.slurmId} is pending: ${s.reason}`, reason: s.reason, slurm_job_id: s.slurmId, slurm_state: s.state }];
    },

    describe() {
      const counts = { pending: 0, running: 0 };
      for (const s of poller.seen.values()) if (s.phase) counts[s.phase]++;
      const calls: Record<string, number> = {}, failures: Record<string, number> = {};
      for (const c of ['sbatch', 'squeue', 'sacct', 'scancel'] as const) {
        const st = cli.stats.get(c);
        calls[c] = st?.calls ?? 0; failures[c] = st?.failures ?? 0;
      }
      return {
        submitted: submitter.submittedJobs, pending: counts.pending, running: counts.running, waiting_to_submit: submitter.waiting,
        calls, failures,
        controller: poller.failingSince
          ? { ok: false, failing_since: new Date(poller.failingSince).toISOString(), error: poller.lastError, failures: poller.squeueFailures }
          : { ok: true },
        sbatch: submitter.lastError ? { ok: false, error: submitter.lastError, retry_at: new Date(submitter.backoffUntil).toISOString() } : { ok: true },
        accounting: poller.accounting,
        poll_interval_ms: { min: o.pollMinMs, max: o.pollMaxMs },
        submits_per_minute: o.submitsPerMinute, array_parallel: o.arrayParallel ?? null, max_submitted: o.maxSubmitted,
      };
    },

    metrics(): string[] {
      const d = executor.describe();
      const lines = [
        '# HELP drover_slurm_jobs Slurm jobs of this server by phase (pending/running: last squeue; waiting: not yet submitted)',
        '# TYPE drover_slurm_jobs gauge',
        `drover_slurm_jobs{phase="pending"} ${d.pending}`, `drover_slurm_jobs{phase="running"} ${d.running}`, `drover_slurm_jobs{phase="waiting"} ${d.waiting_to_submit}`,
        '# HELP drover_slurm_jobs_submitted_total jobs (array tasks included) submitted with sbatch', '# TYPE drover_slurm_jobs_submitted_total counter',
        `drover_slurm_jobs_submitted_total ${d.submitted}`,
        '# HELP drover_slurm_calls_total Slurm client calls by command', '# TYPE drover_slurm_calls_total counter',
        ...Object.entries(d.calls).map(([c, n]) => `drover_slurm_calls_total{command="${c}"} ${n}`),
        '# HELP drover_slurm_call_failures_total failed Slurm client calls by command', '# TYPE drover_slurm_call_failures_total counter',
        ...Object.entries(d.failures).map(([c, n]) => `drover_slurm_call_failures_total{command="${c}"} ${n}`),
        '# HELP drover_slurm_controller_up 0 while squeue fails', '# TYPE drover_slurm_controller_up gauge',
        `drover_slurm_controller_up ${d.controller.ok ? 1 : 0}`,
      ];
      return lines;
    },
  } satisfies Executor;
  return executor;
}

const alreadyGone = (stderr: string) => /Invalid job id|already completing or completed|Job has already finished/i.test(stderr) && !/Unable to contact|timed out|Connection refused/i.test(stderr);
